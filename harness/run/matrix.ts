import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import type { AccelChoice } from '../../vm/qemu/accel.ts';
import type { Accel } from '../../vm/qemu/args.ts';
import type { MatrixConfig } from '../config.ts';
import { executions, perExecutionDirs, plannedKernels, type Plan, type PlannedCell } from '../plan.ts';
import { isJudged, worstVerdict } from '../repeat.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, KernelRecord, RunRecord, RunResults, SharedRunRecord } from '../results.ts';
import type { Scenario } from '../scenario/load.ts';
import type { CellSpec } from './session/cell.ts';
import { runCell } from './run-cell.ts';
import { checkFreeSpace, RUN_SPACE } from './session/free-space.ts';
import { cacheDir } from '../../vm/cache.ts';
import { logClassOf } from './share/guest-state.ts';
import { needsOwnGuest, RERUNS_PER_KERNEL, runShared, type SharedVm } from './share/share.ts';
import { DISK_BUDGET, guestKey, SharedGuest, slotDisks, type SharedSlotRun } from './share/shared-guest.ts';
import { chooseAccelFor, isReady, prepareKernels, type ReadyKernel } from './kernels.ts';
import {
  finishCell, retriable, runOwnGuestCells, UntestedKernels, type CellIdentity, type CellProgress, type ExecutionContext, type OwnGuestCell,
} from './executions.ts';
import type { CellResult } from './session/observations.ts';

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
  await reporters.emit('onBegin', {
    runDir: results.dir, cells: runnable.length, executions: runnable.length * plan.repeat, jobs: cfg.jobs,
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
  if (shared.length > 0) await runSharedGuests(cfg, x, { runnable: shared, kernels, accel: accel.accel });
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

/** One execution as the shared-guest scheduler sees it; retries change it in place. */
interface SharedExecution {
  cell: Cell;
  k: ReadyKernel;
  repeat: number;
  attempt: number;
  spec: CellSpec;
  /** onExecutionBegin was sent (a provisional run and its rerun are one execution to reporters) */
  begun: boolean;
  /** a crash, hang or fail in a shared sequence, waiting for the run first in a fresh guest */
  sharedRun?: SharedRunRecord;
}

/**
 * --share-guest N: executions of one kernel run N to a booted guest (share.ts decides the batches and
 * reruns, shared-guest.ts runs them); each keeps its own directory, verdict, steps and console slice.
 */
async function runSharedGuests(
  cfg: MatrixConfig, ctx: ExecutionContext & { plan: Plan },
  x: { runnable: Cell[]; kernels: Map<string, ReadyKernel | KernelRecord>; accel: Accel },
): Promise<void> {
  const { plan, results, reporters, log, stop } = ctx;
  const progress = new Map<Cell, CellProgress>(x.runnable.map((c) => [c, { runs: [], left: plan.repeat }]));
  const specFor = (cell: Cell, k: ReadyKernel, repeat: number, attempt: number): CellSpec => {
    const cellDir = results.cellDir(k.kernel.label, cell.scenario.id);
    return cellSpec(cfg, cell, k, x.accel, perExecutionDirs(plan) ? join(cellDir, `rep${repeat}-try${attempt}`) : cellDir);
  };
  const items: SharedExecution[] = executions(x.runnable, plan.repeat).map(({ cell, repeat }) => {
    const k = x.kernels.get(cell.kernel.text) as ReadyKernel;
    return { cell, k, repeat, attempt: 1, spec: specFor(cell, k, repeat, 1), begun: false };
  });
  const info = (e: SharedExecution) => ({ id: e.spec.id, repeat: e.repeat, repeats: plan.repeat, attempt: e.attempt });
  let guests = 0;
  const vm: SharedVm<SharedExecution, SharedSlotRun> = {
    open: async (batch) => {
      // A kernel a guest could not test boots no further guest: each execution ends at once, as that one did.
      const known = ctx.untested.get(batch[0]!.cell.kernel.text);
      if (known !== undefined) {
        return {
          run: async (e) => {
            const result: CellResult = { verdict: 'error', reason: known, durationMs: 0, steps: [], disagreements: [] };
            return { verdict: 'error', reusable: false, result, guestDir: '', before: [] };
          },
          close: async () => undefined,
        };
      }
      const n = ++guests;
      const g = await SharedGuest.open(batch.map((e) => e.spec), join(results.dir, 'guests', `${batch[0]!.k.kernel.label}-${n}`));
      return {
        run: async (e, position) => {
          if (!e.begun) await reporters.emit('onExecutionBegin', info(e));
          e.begun = true;
          return g.run(e.spec, position);
        },
        after: (e) => g.after(e.spec),
        close: () => g.close(),
      };
    },
  };
  await runShared(items, {
    perGuest: cfg.shareGuest, jobs: cfg.jobs, budget: DISK_BUDGET, guestKey: (e) => guestKey(e.spec), weight: (e) => slotDisks(e.spec),
    spread: (e) => logClassOf(e.spec.scenario.stack.type), rerunCap: RERUNS_PER_KERNEL,
    ...(stop ? { stop } : {}),
  }, vm, {
    provisional: async (e, r, position) => {
      log(`${e.spec.id}: ${r.verdict} as scenario ${position + 1} of a shared guest; running it again first in a fresh guest (${r.result.reason.replace(/\s*\n\s*/g, ' ')})`);
      await setAside(e.spec.dir);
      // an infrastructure error in the sequence judges nothing; anything the kernel did stays
      if (isJudged(r.verdict)) {
        e.sharedRun = {
          verdict: r.verdict, reason: r.result.reason, ...(r.result.signature !== undefined ? { signature: r.result.signature } : {}),
          before: r.before, dir: results.relative(join(e.spec.dir, 'shared-run')), guest: results.relative(r.guestDir),
        };
      }
    },
    final: async (e, r, position, notRerun) => {
      const p = progress.get(e.cell)!;
      const res = r.result;
      const ran = r.guestDir !== '';
      // a failure later in a guest that is not run again says where it happened and why it stays there
      const reason = notRerun === undefined ? res.reason : `${res.reason} (scenario ${position + 1} of a shared guest, after ${r.before.join(', ')}; ${notRerun})`;
      let run: RunRecord = {
        repeat: e.repeat, attempt: e.attempt, verdict: res.verdict, reason, durationMs: res.durationMs, dir: ran ? results.relative(e.spec.dir) : '',
        ...(ran ? { guest: results.relative(r.guestDir) } : {}),
        ...(res.bootMs !== undefined ? { bootMs: res.bootMs } : {}),
        ...(res.signature !== undefined ? { signature: res.signature } : {}),
        ...(res.disagreements.length > 0 ? { disagreements: res.disagreements.length } : {}),
      };
      if (e.sharedRun !== undefined) {
        run = await withSharedRun(run, e.sharedRun, results.dir);
        e.sharedRun = undefined;
      }
      if (ran) await reporters.emit('onExecutionEnd', { ...info(e), verdict: run.verdict, reason: run.reason, durationMs: run.durationMs });
      p.runs.push(run);
      ctx.untested.note(e.cell.kernel.text, run);
      if (res.kernelRelease !== undefined) p.kernelRelease = res.kernelRelease;
      if (retriable(run) && e.attempt <= plan.retries && !stop?.aborted) {
        log(`${e.spec.id}: infrastructure error, retrying (${e.attempt}/${plan.retries}): ${run.reason.replace(/\s*\n\s*/g, ' ')}`);
        e.attempt++;
        e.spec = specFor(e.cell, e.k, e.repeat, e.attempt);
        e.begun = false;
        return true;
      }
      await finishCell(identityOf(e.cell, e.k), p, ctx);
      return false;
    },
  });
}

/**
 * The verdict of an execution that crashed, hung or failed in a shared sequence: that run's (or the fresh
 * guest's, should it be worse), never laundered into the fresh guest's pass. Both result.json files get
 * the pair as `sharedRun`.
 */
export async function withSharedRun(rerun: RunRecord, shared: SharedRunRecord, runDir: string): Promise<RunRecord> {
  const pair: SharedRunRecord = {
    ...shared,
    rerun: { verdict: rerun.verdict, reason: rerun.reason, ...(rerun.signature !== undefined ? { signature: rerun.signature } : {}), dir: rerun.dir },
  };
  const rerunWorse = isJudged(rerun.verdict) && worstVerdict([shared.verdict, rerun.verdict]) !== shared.verdict;
  const fresh = rerun.verdict === 'pass' ? 'passed (the failure needs the scenarios before it)' : `${rerun.verdict}: ${rerun.reason}`;
  const out: RunRecord = rerunWorse
    ? { ...rerun, reason: `${rerun.reason} (in the shared guest after ${shared.before.join(', ')} it was ${shared.verdict}: ${shared.reason})`, sharedRun: pair }
    : {
      ...rerun, verdict: shared.verdict, dir: shared.dir, guest: shared.guest, sharedRun: pair,
      reason: `${shared.reason} (in a shared guest after ${shared.before.join(', ') || 'nothing'}; run again first in a fresh guest it ${fresh})`,
      ...(shared.signature !== undefined ? { signature: shared.signature } : {}),
    };
  if (!rerunWorse && shared.signature === undefined) delete out.signature;
  for (const d of [shared.dir, rerun.dir]) {
    const file = join(runDir, d, 'result.json');
    const json = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
    if (json !== undefined) await writeFile(file, JSON.stringify({ ...json, sharedRun: pair, cellVerdict: out.verdict }, null, 2) + '\n');
  }
  return out;
}

/** A provisional run's files move to <dir>/shared-run/, out of the way of the run that counts. */
async function setAside(dir: string): Promise<void> {
  const keep = join(dir, 'shared-run');
  await rm(keep, { recursive: true, force: true });
  await mkdir(keep, { recursive: true });
  for (const name of await readdir(dir)) {
    if (name !== 'shared-run' && !/^rep\d+-try\d+$/.test(name)) await rename(join(dir, name), join(keep, name));
  }
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
