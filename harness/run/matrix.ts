import type { KernelSpec } from '../../vm/kernel/spec.ts';
import type { AccelChoice } from '../../vm/qemu/accel.ts';
import type { Accel } from '../../vm/qemu/args.ts';
import type { MatrixConfig } from '../config.ts';
import { plannedKernels, type Plan, type PlannedCell } from '../plan.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, KernelRecord, RunResults } from '../results.ts';
import type { Scenario } from '../scenario/load.ts';
import type { CellSpec } from './session/cell.ts';
import { runCell } from './run-cell.ts';
import { checkFreeSpace, RUN_SPACE } from './session/free-space.ts';
import { cacheDir } from '../../vm/cache.ts';
import { needsOwnGuest } from './share/share.ts';
import { chooseAccelFor, isReady, prepareKernels, type ReadyKernel } from './kernels.ts';
import { runOwnGuestCells, UntestedKernels, type CellIdentity, type OwnGuestCell } from './executions.ts';
import { runSharedCells, type SharedCell } from './shared-executions.ts';

type Cell = PlannedCell<KernelSpec, Scenario>;

/** The record of a cell that never ran: its kernel could not be had (skip) or prepared (error). */
function unrunCell(cell: Cell, k: KernelRecord): CellRecord {
  const kernel = k.label ?? k.spec;
  return {
    id: `${kernel}/${cell.scenario.id}`, kernel, kernelSpec: cell.kernel.text, scenario: cell.scenario.id,
    verdict: k.status === 'unavailable' || k.status === 'build-failed' ? 'skip' : 'error', reason: k.reason ?? k.message ?? k.status, durationMs: 0, dir: '',
  };
}

/**
 * Dispatches a plan: every execution (cell x repetition) bounded by --jobs, an execution that ends in an
 * infrastructure `error` retried up to --retries times, and each cell recorded and reported once all its
 * repetitions are in. Kernels are resolved first; cells on an unavailable kernel are recorded without running.
 */
export async function runMatrix(
  cfg: MatrixConfig, plan: Plan<KernelSpec, Scenario>, results: RunResults, reporters: Reporters, log: (s: string) => void, stop?: AbortSignal,
  prepared?: PreparedKernels,
): Promise<PreparedKernels> {
  const { kernels, accel } = prepared ?? await prepareMatrix(cfg, plan, results, log);
  const runnable = plan.cells.filter((c) => isReady(kernels.get(c.kernel.text)!));
  // A gate's compatibility cells run after these, on the same kernels: the run's count holds those both sides can run.
  const compat = (plan.compat ?? []).filter((c) => isReady(kernels.get(c.writer.text)!) && isReady(kernels.get(c.reader.text)!));
  const cells = runnable.length + compat.length;
  await reporters.emit('onBegin', {
    runDir: results.dir, cells, executions: cells * plan.repeat, jobs: cfg.jobs,
    kernels: plannedKernels(plan).map((k) => k.text),
  });
  // Recorded, not reported one by one: the end of the run names each such kernel once (untested.ts).
  for (const cell of plan.cells) {
    const k = kernels.get(cell.kernel.text)!;
    if (!isReady(k)) await results.addCell(unrunCell(cell, k));
  }
  // Kernels a guest could not test (a boot module did not load): their other executions boot nothing.
  const untested = new UntestedKernels();
  const x = { plan, jobs: cfg.jobs, results, reporters, log, untested, ...(stop !== undefined ? { stop } : {}) };
  const shared = cfg.shareGuest > 1 ? runnable.filter((c) => !needsOwnGuest(c.scenario)) : [];
  if (shared.length > 0) {
    await runSharedCells(shared.map((cell): SharedCell => {
      const k = kernels.get(cell.kernel.text) as ReadyKernel;
      return {
        identity: identityOf(cell, k), cellDir: results.cellDir(k.kernel.label, cell.scenario.id),
        phases: (dir) => [{ spec: cellSpec(cfg, cell, k, accel.accel, dir), kernelText: cell.kernel.text }],
      };
    }), { ...x, shareGuest: cfg.shareGuest });
  }
  const solo = runnable.filter((c) => !shared.includes(c)).map((cell): OwnGuestCell => {
    const k = kernels.get(cell.kernel.text) as ReadyKernel;
    return {
      identity: identityOf(cell, k), kernelText: cell.kernel.text, cellDir: results.cellDir(k.kernel.label, cell.scenario.id),
      execute: (dir) => runCell(cellSpec(cfg, cell, k, accel.accel, dir)),
    };
  });
  await runOwnGuestCells(solo, x);
  return { kernels, accel };
}

/** The plan's kernels resolved and the accelerator chosen: what runMatrix needs before it boots anything. */
export interface PreparedKernels {
  kernels: Map<string, ReadyKernel | KernelRecord>;
  accel: AccelChoice;
}

/**
 * The first half of runMatrix, for callers that run more than the plan's cells on the same kernels (the gate's
 * compatibility pass) or relabel kernels before any cell runs.
 */
export async function prepareMatrix(cfg: MatrixConfig, plan: Plan<KernelSpec, Scenario>, results: RunResults, log: (s: string) => void): Promise<PreparedKernels> {
  await checkFreeSpace([{ path: results.dir, bytes: RUN_SPACE, what: 'results' }, { path: cacheDir(), bytes: RUN_SPACE, what: 'cache' }]);
  const kernels = await prepareKernels(plannedKernels(plan), cfg, results, log);
  const accel = await chooseAccelFor(cfg, kernels);
  results.summary.accelerator = accel;
  log(`accelerator: ${accel.accel} (${accel.reason})`);
  return { kernels, accel };
}

/** One execution of a planned cell, in `dir`, as the guest runs it (alone or shared). */
function cellSpec(cfg: MatrixConfig, cell: Cell, k: ReadyKernel, accel: Accel, dir: string): CellSpec {
  return {
    id: `${k.kernel.label}/${cell.scenario.id}`, dir, scenario: cell.scenario, kernel: k.kernel, image: k.image, accel,
    bootTimeoutMs: cfg.bootTimeoutMs, memoryMb: cfg.memoryMb, cpus: Math.max(cfg.cpus, cell.scenario.cpus ?? 1), keepDisks: cfg.keepDisks,
  };
}

function identityOf(cell: Cell, k: ReadyKernel): CellIdentity {
  return { id: `${k.kernel.label}/${cell.scenario.id}`, kernel: k.kernel.label, kernelSpec: cell.kernel.text, scenario: cell.scenario.id };
}
