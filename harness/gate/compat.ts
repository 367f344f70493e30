/**
 * The gate's format-compatibility pass: for each stack in harness/gate/compat/ and each direction, one
 * kernel boots, formats the stack and writes the scenario's pattern (the cell runner's 'write' phase, which
 * ends with the model's audit of the raw disk), and the other boots on a copy of that disk, opens the stack
 * without formatting and reads every written block (the 'read' phase: the model replays the writes and
 * judges every byte and errno). A kernel that reads its own writes but writes another format fails here.
 *
 * Each direction is one cell: scenario `compat/<stack>`, kernel `base→candidate` (base wrote, the candidate
 * read) or `candidate→base`, --kernel text the reader's, so report grids show it in the reader's column.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Accel } from '../../vm/qemu/args.ts';
import type { MatrixConfig } from '../config.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, KernelRecord, RunResults } from '../results.ts';
import type { CellSpec } from '../run/session/cell.ts';
import { runCell as realRunCell } from '../run/run-cell.ts';
import { isReady, type ReadyKernel } from '../run/kernels.ts';
import type { CellResult } from '../run/session/observations.ts';
import type { Scenario } from '../scenario/load.ts';
import type { Role } from './sides.ts';

export type RunCellFn = (spec: CellSpec) => Promise<Pick<CellResult, 'verdict' | 'reason' | 'durationMs' | 'bootMs' | 'signature' | 'kernelRelease'>>;

export interface CompatRun {
  cfg: MatrixConfig;
  scenarios: Scenario[];
  /** each side's --kernel text (as planned) and its prepared kernel */
  sides: Record<Role, { spec: string; kernel: ReadyKernel | KernelRecord }>;
  accel: Accel;
  results: RunResults;
  reporters: Reporters;
  stop?: AbortSignal;
  /** the cell runner (a test replaces the VM layer) */
  runCell?: RunCellFn;
}

const OTHER: Record<Role, Role> = { base: 'candidate', candidate: 'base' };

export function directionLabel(writer: Role): string {
  return `${writer}→${OTHER[writer]}`;
}

/** Runs every compatibility cell (both directions of each scenario), --jobs at a time; each is recorded and reported. */
export async function runCompat(p: CompatRun): Promise<void> {
  const limit = pLimit(p.cfg.jobs);
  const work = p.scenarios.flatMap((scenario) => (['base', 'candidate'] as const).map((writer) => ({ scenario, writer })));
  await Promise.all(work.map(({ scenario, writer }) => limit(async () => {
    if (p.stop?.aborted) return;
    const rec = await compatCell(p, scenario, writer);
    if (p.stop?.aborted) return;
    await p.reporters.emit('onCellEnd', await p.results.addCell(rec));
  })));
}

async function compatCell(p: CompatRun, scenario: Scenario, writer: Role): Promise<CellRecord> {
  const reader = OTHER[writer];
  const kernel = directionLabel(writer);
  const base: Omit<CellRecord, 'verdict' | 'reason' | 'durationMs' | 'dir'> = {
    id: `${kernel}/${scenario.id}`, kernel, kernelSpec: p.sides[reader].spec, scenario: scenario.id,
    gate: { role: 'compat', writer, reader },
  };
  const w = p.sides[writer].kernel;
  const r = p.sides[reader].kernel;
  for (const [role, k] of [[writer, w], [reader, r]] as const) {
    if (!isReady(k)) {
      const verdict = k.status === 'error' ? 'error' : 'skip';
      return { ...base, verdict, reason: `${role} kernel ${k.spec} is ${k.status}: ${k.message ?? ''}`.trim(), durationMs: 0, dir: '' };
    }
  }
  const run = p.runCell ?? realRunCell;
  const cellDir = p.results.cellDir(kernel, scenario.id);
  const spec = (k: ReadyKernel, dir: string): Omit<CellSpec, 'phase'> => ({
    id: base.id, dir, scenario, kernel: k.kernel, image: k.image, accel: p.accel,
    bootTimeoutMs: p.cfg.bootTimeoutMs, memoryMb: p.cfg.memoryMb, cpus: p.cfg.cpus, keepDisks: p.cfg.keepDisks,
  });
  const writeDir = join(cellDir, 'write');
  const wr = await guarded(run, { ...spec(w as ReadyKernel, writeDir), phase: 'write', keepDisks: true });
  const wk = (w as ReadyKernel).kernel.label;
  if (wr.verdict !== 'pass') {
    return {
      ...base, verdict: wr.verdict, reason: `${writer} (${wk}) formatting and writing: ${wr.reason}`, durationMs: wr.durationMs,
      dir: p.results.relative(writeDir), ...optional(wr),
    };
  }
  if (p.stop?.aborted) return { ...base, verdict: 'error', reason: 'interrupted between writing and reading', durationMs: wr.durationMs, dir: p.results.relative(writeDir) };
  const readDir = join(cellDir, 'read');
  const seedDisks = Object.fromEntries(scenario.disks.map((d) => [d.name, join(writeDir, 'disks', `${d.name}.img`)]));
  const rr = await guarded(run, { ...spec(r as ReadyKernel, readDir), phase: 'read', seedDisks });
  const rk = (r as ReadyKernel).kernel.label;
  if (rr.verdict === 'pass' && !p.cfg.keepDisks) await rm(join(writeDir, 'disks'), { recursive: true, force: true });
  const reason = rr.verdict === 'pass'
    ? `${reader} (${rk}) read every block ${writer} (${wk}) wrote: ${rr.reason}`
    : `${reader} (${rk}) reading the disk ${writer} (${wk}) wrote: ${rr.reason}`;
  return { ...base, verdict: rr.verdict, reason, durationMs: wr.durationMs + rr.durationMs, dir: p.results.relative(readDir), ...optional(rr) };
}

/** Whatever goes wrong in the harness around a guest is that phase's `error`, as in the matrix. */
async function guarded(run: RunCellFn, spec: CellSpec): ReturnType<RunCellFn> {
  const started = Date.now();
  try {
    return await run(spec);
  } catch (e) {
    return { verdict: 'error', reason: `harness failed around the guest: ${(e as Error).message}`, durationMs: Date.now() - started };
  }
}

function optional(r: Awaited<ReturnType<RunCellFn>>): Partial<CellRecord> {
  return {
    ...(r.bootMs !== undefined ? { bootMs: r.bootMs } : {}),
    ...(r.kernelRelease !== undefined ? { kernelRelease: r.kernelRelease } : {}),
    ...(r.signature !== undefined ? { signature: r.signature } : {}),
  };
}
