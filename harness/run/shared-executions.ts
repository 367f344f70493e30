/**
 * --share-guest N: the executions of cells that may share booted guests (the matrix's cells and the gate's
 * compatibility cells), N scenarios to a guest of one kernel (share.ts decides the batches and reruns,
 * shared-guest.ts runs them), with --repeat, --retries and the reporters' hooks as executions.ts gives cells
 * in guests of their own. An execution is one or more phases, each a scenario run in a guest of its own
 * kernel: the matrix's cells have one; a compatibility cell writes on one kernel, then reads a copy of those
 * disks on the other. A phase that passes hands the execution to its next phase, which is queued like any
 * scenario and shares a guest of its kernel with whatever else runs there. Each phase keeps its own
 * directory, verdict, steps and console slice.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { executions, perExecutionDirs, type Plan } from '../plan.ts';
import type { RunRecord, RunResults, SharedRunRecord } from '../results.ts';
import { isJudged } from '../verdict/order.ts';
import { sharedRunVerdict } from '../verdict/shared-run.ts';
import { finishCell, retriable, type CellIdentity, type CellProgress, type ExecutionContext } from './executions.ts';
import type { CellSpec } from './session/cell.ts';
import type { CellResult } from './session/observations.ts';
import { logClassOf } from './share/guest-state.ts';
import { RERUNS_PER_KERNEL, runShared, type SharedVm } from './share/share.ts';
import { DISK_BUDGET, guestKey, SharedGuest, slotDisks, type SharedSlotRun } from './share/shared-guest.ts';

/** One phase of an execution: a scenario on the kernel whose guests run it. */
export interface ExecutionPhase {
  spec: CellSpec;
  /** the --kernel text of the phase's kernel: a kernel a guest could not test boots nothing more */
  kernelText: string;
}

/** A cell whose executions run in shared guests. */
export interface SharedCell {
  identity: CellIdentity;
  /** the phases of one execution in `dir` (cells/<cell> or cells/<cell>/rep<r>-try<a>), in order */
  phases(dir: string): ExecutionPhase[];
  /** cells/<kernel>/<scenario>: the parent of each execution's directory */
  cellDir: string;
  /**
   * The execution's record once its last phase ran, or a phase that did not pass ended it: `phases` holds
   * the record of each phase that ran, in order. Without it the last phase's record is the execution's.
   */
  finish?(phases: RunRecord[], dir: string): Promise<RunRecord>;
}

export interface SharedContext extends ExecutionContext {
  plan: Pick<Plan, 'repeat' | 'retries'>;
  shareGuest: number;
  /** opens a shared guest (a test replaces the VM layer) */
  open?: (batch: CellSpec[], dir: string) => Promise<Pick<SharedGuest, 'run' | 'after' | 'close'>>;
}

/** One execution as the shared-guest scheduler sees it; its phases and retries change it in place. */
interface SharedExecution {
  cell: SharedCell;
  repeat: number;
  attempt: number;
  dir: string;
  phases: ExecutionPhase[];
  /** the phase that runs next */
  phase: number;
  /** the records of the phases that ran */
  done: RunRecord[];
  /** onExecutionBegin was sent (a provisional run, its rerun and the later phases are one execution to reporters) */
  begun: boolean;
  /** a crash, hang or fail in a shared sequence, waiting for the phase's run first in a fresh guest */
  sharedRun?: SharedRunRecord;
  kernelRelease?: string;
}

/** Runs every execution of `cells` in shared guests and records each cell once all its repetitions are in. */
export async function runSharedCells(cells: SharedCell[], x: SharedContext): Promise<void> {
  const { plan, results, reporters, log, stop } = x;
  const progress = new Map<SharedCell, CellProgress>(cells.map((c) => [c, { runs: [], left: plan.repeat }]));
  const dirOf = (cell: SharedCell, repeat: number, attempt: number) => (perExecutionDirs(plan) ? join(cell.cellDir, `rep${repeat}-try${attempt}`) : cell.cellDir);
  const start = (e: SharedExecution): void => {
    e.dir = dirOf(e.cell, e.repeat, e.attempt);
    e.phases = e.cell.phases(e.dir);
    e.phase = 0;
    e.done = [];
    e.begun = false;
  };
  const items: SharedExecution[] = executions(cells, plan.repeat).map(({ cell, repeat }) => {
    const e = { cell, repeat, attempt: 1, dir: '', phases: [], phase: 0, done: [], begun: false } as SharedExecution;
    start(e);
    return e;
  });
  const now = (e: SharedExecution): ExecutionPhase => e.phases[e.phase]!;
  const info = (e: SharedExecution) => ({ id: e.cell.identity.id, repeat: e.repeat, repeats: plan.repeat, attempt: e.attempt });
  const open = x.open ?? ((batch: CellSpec[], dir: string) => SharedGuest.open(batch, dir));
  const vm: SharedVm<SharedExecution, SharedSlotRun> = {
    open: async (batch) => {
      // A kernel a guest could not test boots no further guest: each execution ends at once, as that one did.
      const known = x.untested.get(now(batch[0]!).kernelText);
      if (known !== undefined) {
        return {
          run: async () => {
            const result: CellResult = { verdict: 'error', reason: known, durationMs: 0, steps: [], disagreements: [] };
            return { verdict: 'error', reusable: false, result, guestDir: '', before: [] };
          },
          close: async () => undefined,
        };
      }
      const g = await open(batch.map((e) => now(e).spec), await newGuestDir(results, now(batch[0]!).spec.kernel.label));
      return {
        run: async (e, position) => {
          if (!e.begun) await reporters.emit('onExecutionBegin', info(e));
          e.begun = true;
          return g.run(now(e).spec, position);
        },
        after: (e) => g.after(now(e).spec),
        close: () => g.close(),
      };
    },
  };
  await runShared(items, {
    perGuest: x.shareGuest, jobs: x.jobs, budget: DISK_BUDGET, guestKey: (e) => guestKey(now(e).spec), weight: (e) => slotDisks(now(e).spec),
    spread: (e) => logClassOf(now(e).spec.scenario.stack.type), rerunCap: RERUNS_PER_KERNEL,
    ...(stop ? { stop } : {}),
  }, vm, {
    provisional: async (e, r, position) => {
      const spec = now(e).spec;
      log(`${spec.id}: ${r.verdict} as scenario ${position + 1} of a shared guest; running it again first in a fresh guest (${r.result.reason.replace(/\s*\n\s*/g, ' ')})`);
      await setAside(spec.dir);
      // an infrastructure error in the sequence judges nothing; anything the kernel did stays
      if (isJudged(r.verdict)) {
        e.sharedRun = {
          verdict: r.verdict, reason: r.result.reason, ...(r.result.signature !== undefined ? { signature: r.result.signature } : {}),
          before: r.before, dir: results.relative(join(spec.dir, 'shared-run')), guest: results.relative(r.guestDir),
        };
      }
    },
    final: async (e, r, position, notRerun) => {
      const res = r.result;
      const ran = r.guestDir !== '';
      // a failure later in a guest that is not run again says where it happened and why it stays there
      const reason = notRerun === undefined ? res.reason : `${res.reason} (scenario ${position + 1} of a shared guest, after ${r.before.join(', ')}; ${notRerun})`;
      let run: RunRecord = {
        repeat: e.repeat, attempt: e.attempt, verdict: res.verdict, reason, durationMs: res.durationMs, dir: ran ? results.relative(now(e).spec.dir) : '',
        ...(ran ? { guest: results.relative(r.guestDir) } : {}),
        ...(res.bootMs !== undefined ? { bootMs: res.bootMs } : {}),
        ...(res.signature !== undefined ? { signature: res.signature } : {}),
        ...(res.disagreements.length > 0 ? { disagreements: res.disagreements.length } : {}),
      };
      if (e.sharedRun !== undefined) {
        run = await withSharedRun(run, e.sharedRun, results.dir);
        e.sharedRun = undefined;
      }
      if (res.kernelRelease !== undefined) e.kernelRelease = res.kernelRelease;
      x.untested.note(now(e).kernelText, run);
      e.done.push(run);
      // A phase that passed hands the execution on: its next phase queues for a guest of its own kernel.
      if (run.verdict === 'pass' && e.phase + 1 < e.phases.length) {
        if (stop?.aborted) return false;
        e.phase++;
        return true;
      }
      if (e.cell.finish !== undefined) run = await e.cell.finish(e.done, e.dir);
      if (ran || e.done.length > 1) await reporters.emit('onExecutionEnd', { ...info(e), verdict: run.verdict, reason: run.reason, durationMs: run.durationMs });
      const p = progress.get(e.cell)!;
      p.runs.push(run);
      if (e.kernelRelease !== undefined) p.kernelRelease = e.kernelRelease;
      if (retriable(run) && e.attempt <= plan.retries && !stop?.aborted) {
        log(`${e.cell.identity.id}: infrastructure error, retrying (${e.attempt}/${plan.retries}): ${run.reason.replace(/\s*\n\s*/g, ' ')}`);
        e.attempt++;
        start(e);
        return true;
      }
      await finishCell(e.cell.identity, p, x);
      return false;
    },
  });
}

/**
 * A fresh guests/<label>-<n> directory: the first n not taken, claimed by creating it, so the matrix's pass
 * and the gate's compatibility pass in one run never share one.
 */
export async function newGuestDir(results: Pick<RunResults, 'dir'>, label: string): Promise<string> {
  const parent = join(results.dir, 'guests');
  await mkdir(parent, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(parent, `${label}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * The record of an execution that crashed, hung or failed in a shared sequence, once it ran again first in a
 * fresh guest (the verdict is sharedRunVerdict's); both result.json files get the pair as `sharedRun`.
 */
export async function withSharedRun(rerun: RunRecord, shared: SharedRunRecord, runDir: string): Promise<RunRecord> {
  const { record, pair } = sharedRunVerdict(rerun, shared);
  for (const d of [shared.dir, rerun.dir]) {
    const file = join(runDir, d, 'result.json');
    const json = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
    if (json !== undefined) await writeFile(file, JSON.stringify({ ...json, sharedRun: pair, cellVerdict: record.verdict }, null, 2) + '\n');
  }
  return record;
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
