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
import type { Accel } from '../../vm/qemu/args.ts';
import type { MatrixConfig } from '../config.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, KernelRecord, RunResults } from '../results.ts';
import { runOwnGuestCells, UntestedKernels, type CellIdentity, type ExecutionResult, type OwnGuestCell } from '../run/executions.ts';
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
  /** where a retried execution is said */
  log?: (s: string) => void;
}

const OTHER: Record<Role, Role> = { base: 'candidate', candidate: 'base' };

export function directionLabel(writer: Role): string {
  return `${writer}→${OTHER[writer]}`;
}

/**
 * Runs every compatibility cell (both directions of each scenario) as the matrix runs a cell in guests of its
 * own (run/executions.ts): --jobs at a time, --repeat executions each, an infrastructure error tried again up
 * to --retries times, every execution and cell reported. An execution is two guests, the writer's then the
 * reader's on a copy of the writer's disks, so it never shares a guest (--share-guest leaves it as it is).
 */
export async function runCompat(p: CompatRun): Promise<void> {
  const cells: OwnGuestCell[] = [];
  for (const scenario of p.scenarios) {
    for (const writer of ['base', 'candidate'] as const) {
      const c = compatCell(p, scenario, writer);
      if ('verdict' in c) await p.reporters.emit('onCellEnd', await p.results.addCell(c));
      else cells.push(c);
    }
  }
  await runOwnGuestCells(cells, {
    plan: { repeat: p.cfg.repeat, retries: p.cfg.retries }, jobs: p.cfg.jobs, results: p.results, reporters: p.reporters,
    log: p.log ?? (() => undefined), untested: new UntestedKernels(), ...(p.stop !== undefined ? { stop: p.stop } : {}),
  });
}

/** A direction of a compatibility scenario as a cell, or its record when one of its kernels is not ready. */
function compatCell(p: CompatRun, scenario: Scenario, writer: Role): OwnGuestCell | CellRecord {
  const reader = OTHER[writer];
  const kernel = directionLabel(writer);
  const identity: CellIdentity = {
    id: `${kernel}/${scenario.id}`, kernel, kernelSpec: p.sides[reader].spec, scenario: scenario.id,
    gate: { role: 'compat', writer, reader },
  };
  const w = p.sides[writer].kernel;
  const r = p.sides[reader].kernel;
  for (const [role, k] of [[writer, w], [reader, r]] as const) {
    if (!isReady(k)) {
      const verdict = k.status === 'error' ? 'error' : 'skip';
      return { ...identity, verdict, reason: `${role} kernel ${k.spec} is ${k.status}: ${k.message ?? ''}`.trim(), durationMs: 0, dir: '' };
    }
  }
  return {
    identity, cellDir: p.results.cellDir(kernel, scenario.id),
    execute: (dir) => compatExecution(p, { identity, scenario, writer, w: w as ReadyKernel, r: r as ReadyKernel }, dir),
  };
}

/** One execution of a compatibility cell in `dir`: the writer's phase in write/, the reader's in read/. */
async function compatExecution(
  p: CompatRun, c: { identity: CellIdentity; scenario: Scenario; writer: Role; w: ReadyKernel; r: ReadyKernel }, dir: string,
): Promise<ExecutionResult> {
  const { scenario, writer } = c;
  const reader = OTHER[writer];
  const run = p.runCell ?? realRunCell;
  const spec = (k: ReadyKernel, phaseDir: string): Omit<CellSpec, 'phase'> => ({
    id: c.identity.id, dir: phaseDir, scenario, kernel: k.kernel, image: k.image, accel: p.accel,
    bootTimeoutMs: p.cfg.bootTimeoutMs, memoryMb: p.cfg.memoryMb, cpus: p.cfg.cpus, keepDisks: p.cfg.keepDisks,
  });
  const writeDir = join(dir, 'write');
  const wr = await guarded(run, { ...spec(c.w, writeDir), phase: 'write', keepDisks: true });
  const wk = c.w.kernel.label;
  if (wr.verdict !== 'pass') return { ...wr, reason: `${writer} (${wk}) formatting and writing: ${wr.reason}`, dir: writeDir };
  if (p.stop?.aborted) return { verdict: 'error', reason: 'interrupted between writing and reading', durationMs: wr.durationMs, dir: writeDir };
  const readDir = join(dir, 'read');
  const seedDisks = Object.fromEntries(scenario.disks.map((d) => [d.name, join(writeDir, 'disks', `${d.name}.img`)]));
  const rr = await guarded(run, { ...spec(c.r, readDir), phase: 'read', seedDisks });
  const rk = c.r.kernel.label;
  if (rr.verdict === 'pass' && !p.cfg.keepDisks) await rm(join(writeDir, 'disks'), { recursive: true, force: true });
  const reason = rr.verdict === 'pass'
    ? `${reader} (${rk}) read every block ${writer} (${wk}) wrote: ${rr.reason}`
    : `${reader} (${rk}) reading the disk ${writer} (${wk}) wrote: ${rr.reason}`;
  return { ...rr, reason, durationMs: wr.durationMs + rr.durationMs, dir: readDir };
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
