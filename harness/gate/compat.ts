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
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import type { Accel } from '../../vm/qemu/args.ts';
import type { MatrixConfig } from '../config.ts';
import type { PlannedCompatCell } from '../plan.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, KernelRecord, RunRecord, RunResults } from '../results.ts';
import { runOwnGuestCells, UntestedKernels, type CellIdentity, type ExecutionContext, type ExecutionResult } from '../run/executions.ts';
import type { CellSpec } from '../run/session/cell.ts';
import { runCell as realRunCell } from '../run/run-cell.ts';
import { isReady, type ReadyKernel } from '../run/kernels.ts';
import type { CellResult } from '../run/session/observations.ts';
import { needsOwnGuest } from '../run/share/share.ts';
import { runSharedCells, type ExecutionPhase, type SharedContext } from '../run/shared-executions.ts';
import type { Scenario } from '../scenario/load.ts';
import type { Role } from './sides.ts';

export type RunCellFn = (spec: CellSpec) => Promise<Pick<CellResult, 'verdict' | 'reason' | 'durationMs' | 'bootMs' | 'signature' | 'kernelRelease'>>;

export interface CompatRun {
  cfg: MatrixConfig;
  /** the plan's compatibility cells (plan.ts, withCompat) */
  cells: PlannedCompatCell<KernelSpec, Scenario>[];
  /** each side's --kernel text (as planned) and its prepared kernel */
  sides: Record<Role, { spec: string; kernel: ReadyKernel | KernelRecord }>;
  accel: Accel;
  results: RunResults;
  reporters: Reporters;
  stop?: AbortSignal;
  /** the cell runner of a guest of its own (a test replaces the VM layer) */
  runCell?: RunCellFn;
  /** opens a shared guest (a test replaces the VM layer) */
  openGuest?: SharedContext['open'];
  /** where a retried execution is said */
  log?: (s: string) => void;
}

const OTHER: Record<Role, Role> = { base: 'candidate', candidate: 'base' };

export function directionLabel(writer: Role): string {
  return `${writer}→${OTHER[writer]}`;
}

/** A direction of a compatibility scenario whose two kernels are ready. */
interface CompatCell {
  identity: CellIdentity;
  cellDir: string;
  scenario: Scenario;
  writer: Role;
  w: ReadyKernel;
  r: ReadyKernel;
}

/**
 * Runs every compatibility cell of the plan as the matrix runs its cells: --jobs at a time, --repeat
 * executions each, an infrastructure error tried again up to --retries times, every execution and cell
 * reported. Under --share-guest N each phase shares a guest of its kernel with other phases (the writers'
 * on one kernel, the readers' on the other: run/shared-executions.ts); with --share-guest 1, or a scenario
 * that kills its own QEMU, an execution boots a guest for each phase.
 */
export async function runCompat(p: CompatRun): Promise<void> {
  const cells: CompatCell[] = [];
  for (const planned of p.cells) {
    const c = compatCell(p, planned);
    if ('verdict' in c) await p.reporters.emit('onCellEnd', await p.results.addCell(c));
    else cells.push(c);
  }
  const x: ExecutionContext = {
    plan: { repeat: p.cfg.repeat, retries: p.cfg.retries }, jobs: p.cfg.jobs, results: p.results, reporters: p.reporters,
    log: p.log ?? (() => undefined), untested: new UntestedKernels(), ...(p.stop !== undefined ? { stop: p.stop } : {}),
  };
  const shared = p.cfg.shareGuest > 1 ? cells.filter((c) => !needsOwnGuest(c.scenario)) : [];
  if (shared.length > 0) {
    await runSharedCells(shared.map((c) => ({
      identity: c.identity, cellDir: c.cellDir,
      phases: (dir) => compatPhases(p, c, dir),
      finish: async (ran, dir) => composed(p, c, ran.map((r) => ({ ...r, dir: join(p.results.dir, r.dir) })), dir, (abs) => p.results.relative(abs)),
    })), { ...x, shareGuest: p.cfg.shareGuest, ...(p.openGuest !== undefined ? { open: p.openGuest } : {}) });
  }
  await runOwnGuestCells(cells.filter((c) => !shared.includes(c)).map((c) => ({
    identity: c.identity, cellDir: c.cellDir, execute: (dir) => compatExecution(p, c, dir),
  })), x);
}

/** A direction of a compatibility scenario as a cell, or its record when one of its kernels is not ready. */
function compatCell(p: CompatRun, planned: PlannedCompatCell<KernelSpec, Scenario>): CompatCell | CellRecord {
  const { scenario } = planned;
  const writer: Role = planned.writer.text === p.sides.base.spec ? 'base' : 'candidate';
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
  return { identity, cellDir: p.results.cellDir(kernel, scenario.id), scenario, writer, w: w as ReadyKernel, r: r as ReadyKernel };
}

/**
 * The two phases of one execution in `dir`: the writer formats and writes in write/ (its disks kept for the
 * reader), the reader opens a copy of those disks in read/.
 */
function compatPhases(p: CompatRun, c: CompatCell, dir: string): ExecutionPhase[] {
  const spec = (k: ReadyKernel, phaseDir: string): Omit<CellSpec, 'phase'> => ({
    id: c.identity.id, dir: phaseDir, scenario: c.scenario, kernel: k.kernel, image: k.image, accel: p.accel,
    bootTimeoutMs: p.cfg.bootTimeoutMs, memoryMb: p.cfg.memoryMb, cpus: p.cfg.cpus, keepDisks: p.cfg.keepDisks,
  });
  const writeDir = join(dir, 'write');
  const seedDisks = Object.fromEntries(c.scenario.disks.map((d) => [d.name, join(writeDir, 'disks', `${d.name}.img`)]));
  return [
    { spec: { ...spec(c.w, writeDir), phase: 'write', keepDisks: true }, kernelText: p.sides[c.writer].spec },
    { spec: { ...spec(c.r, join(dir, 'read')), phase: 'read', seedDisks }, kernelText: p.sides[OTHER[c.writer]].spec },
  ];
}

/** One execution of a compatibility cell in guests of its own: the writer's phase, then the reader's. */
async function compatExecution(p: CompatRun, c: CompatCell, dir: string): Promise<ExecutionResult> {
  const run = p.runCell ?? realRunCell;
  const [write, read] = compatPhases(p, c, dir);
  const wr = { ...await guarded(run, write!.spec), dir: write!.spec.dir };
  if (wr.verdict !== 'pass') return composed(p, c, [wr], dir, (abs) => abs);
  if (p.stop?.aborted) return { verdict: 'error', reason: 'interrupted between writing and reading', durationMs: wr.durationMs, dir: wr.dir };
  const rr = { ...await guarded(run, read!.spec), dir: read!.spec.dir };
  return composed(p, c, [wr, rr], dir, (abs) => abs);
}

type PhaseResult = Pick<RunRecord, 'verdict' | 'reason' | 'durationMs'> & { dir: string };

/**
 * The execution's result from its phases' (`dir` of each absolute): the last phase's, its reason saying which
 * kernel did what, the durations added up. The writer's disks go once the reader passed, unless --keep-disks.
 */
async function composed<T extends PhaseResult>(p: CompatRun, c: CompatCell, ran: T[], dir: string, rel: (abs: string) => string): Promise<T> {
  const reader = OTHER[c.writer];
  const wk = c.w.kernel.label;
  const rk = c.r.kernel.label;
  const last = ran.at(-1)!;
  if (ran.length === 1) return { ...last, reason: `${c.writer} (${wk}) formatting and writing: ${last.reason}`, dir: rel(last.dir) };
  if (last.verdict === 'pass' && !p.cfg.keepDisks) await rm(join(dir, 'write', 'disks'), { recursive: true, force: true });
  const reason = last.verdict === 'pass'
    ? `${reader} (${rk}) read every block ${c.writer} (${wk}) wrote: ${last.reason}`
    : `${reader} (${rk}) reading the disk ${c.writer} (${wk}) wrote: ${last.reason}`;
  return { ...last, reason, durationMs: ran.reduce((t, r) => t + r.durationMs, 0), dir: rel(last.dir) };
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
