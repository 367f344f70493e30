/**
 * The executions of cells that boot guests of their own (the matrix's cells that do not share a guest, and the
 * gate's compatibility cells): --jobs at a time, each repetition of --repeat, an infrastructure `error` tried
 * again up to --retries times, reporters told of every execution (onExecutionBegin/End) and of each cell once
 * all its repetitions are in (onCellEnd). What one execution does is the cell's own (`execute`).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { executions, perExecutionDirs, type Plan } from '../plan.ts';
import { combineRuns } from '../verdict/repeat.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { CellRecord, RunRecord, RunResults } from '../results.ts';
import { guestUntestedReason } from '../untested.ts';
import type { CellResult } from './session/observations.ts';

/** What one execution ended with; `dir` when its verdict comes from another directory than the execution's. */
export type ExecutionResult = Pick<CellResult, 'verdict' | 'reason' | 'durationMs' | 'bootMs' | 'signature' | 'kernelRelease'> & {
  disagreements?: unknown[];
  dir?: string;
};

/** The fields of a cell's record that name it. */
export type CellIdentity = Pick<CellRecord, 'id' | 'kernel' | 'kernelSpec' | 'scenario'> & Partial<Pick<CellRecord, 'gate'>>;

/** A cell whose every execution boots guests of its own. */
export interface OwnGuestCell {
  identity: CellIdentity;
  /** cells/<kernel>/<scenario>: the execution's directory, or the parent of each execution's (rep<r>-try<a>) */
  cellDir: string;
  /** the --kernel text whose guests run it, where a kernel its guests could not test boots nothing more */
  kernelText?: string;
  /** one execution in `dir`; anything it throws is the harness's `error` */
  execute(dir: string): Promise<ExecutionResult>;
}

/** A cell's executions, until all its repetitions are in. */
export interface CellProgress {
  runs: RunRecord[];
  kernelRelease?: string;
  left: number;
}

/** Kernels a guest could not test (a boot module did not load), by --kernel text: their other executions boot nothing. */
export class UntestedKernels {
  private readonly reasons = new Map<string, string>();
  get(kernelText: string): string | undefined {
    return this.reasons.get(kernelText);
  }
  note(kernelText: string, run: RunRecord): void {
    if (guestUntestedReason(run.reason) !== undefined && !this.reasons.has(kernelText)) this.reasons.set(kernelText, run.reason);
  }
}

export interface ExecutionContext {
  plan: Pick<Plan, 'repeat' | 'retries'>;
  jobs: number;
  results: RunResults;
  reporters: Reporters;
  log(s: string): void;
  untested: UntestedKernels;
  stop?: AbortSignal;
}

/** Runs every execution of `cells`, --jobs at a time, and records each cell once all its repetitions are in. */
export async function runOwnGuestCells(cells: OwnGuestCell[], x: ExecutionContext): Promise<void> {
  const progress = new Map<OwnGuestCell, CellProgress>(cells.map((c) => [c, { runs: [], left: x.plan.repeat }]));
  const limit = pLimit(x.jobs);
  await Promise.all(executions(cells, x.plan.repeat).map(({ cell, repeat }) => limit(async () => {
    // After Ctrl-C nothing new boots; cells that never ran stay out of the summary.
    if (x.stop?.aborted) return;
    const p = progress.get(cell)!;
    for (let attempt = 1; ; attempt++) {
      const known = cell.kernelText !== undefined ? x.untested.get(cell.kernelText) : undefined;
      const { run, kernelRelease } = known !== undefined
        ? { run: untestedRun(repeat, attempt, known), kernelRelease: undefined }
        : await reportedExecution(cell, x, repeat, attempt);
      p.runs.push(run);
      if (cell.kernelText !== undefined) x.untested.note(cell.kernelText, run);
      if (kernelRelease !== undefined) p.kernelRelease = kernelRelease;
      if (!retriable(run) || attempt > x.plan.retries || x.stop?.aborted) break;
      x.log(`${cell.identity.id}: infrastructure error, retrying (${attempt}/${x.plan.retries}): ${run.reason.replace(/\s*\n\s*/g, ' ')}`);
    }
    await finishCell(cell.identity, p, x);
  })));
}

/** Counts one execution of a cell in; once its last repetition is in, the cell is recorded and reported. */
export async function finishCell(identity: CellIdentity, p: CellProgress, x: Pick<ExecutionContext, 'results' | 'reporters' | 'stop'>): Promise<void> {
  if (--p.left === 0 && !x.stop?.aborted) await x.reporters.emit('onCellEnd', await x.results.addCell(cellRecord(identity, p)));
}

/** One execution of a cell; whatever goes wrong in the harness around it is that execution's `error`. */
async function reportedExecution(cell: OwnGuestCell, x: ExecutionContext, repeat: number, attempt: number): Promise<{ run: RunRecord; kernelRelease?: string }> {
  const dir = perExecutionDirs(x.plan) ? join(cell.cellDir, `rep${repeat}-try${attempt}`) : cell.cellDir;
  const info = { id: cell.identity.id, repeat, repeats: x.plan.repeat, attempt };
  await x.reporters.emit('onExecutionBegin', info);
  const started = Date.now();
  let r: ExecutionResult;
  try {
    await mkdir(dir, { recursive: true });
    r = await cell.execute(dir);
  } catch (e) {
    r = { verdict: 'error', reason: `harness failed around the guest: ${(e as Error).message}`, durationMs: Date.now() - started };
  }
  const run: RunRecord = {
    repeat, attempt, verdict: r.verdict, reason: r.reason, durationMs: r.durationMs, dir: x.results.relative(r.dir ?? dir),
    ...(r.bootMs !== undefined ? { bootMs: r.bootMs } : {}),
    ...(r.signature !== undefined ? { signature: r.signature } : {}),
    ...((r.disagreements?.length ?? 0) > 0 ? { disagreements: r.disagreements!.length } : {}),
  };
  await x.reporters.emit('onExecutionEnd', { ...info, verdict: run.verdict, reason: run.reason, durationMs: run.durationMs });
  return { run, ...(r.kernelRelease !== undefined ? { kernelRelease: r.kernelRelease } : {}) };
}

/**
 * --retries is for infrastructure errors that judged nothing. An error after the model already disagreed
 * keeps its disagreements as the cell's record instead of trading them for another attempt, and a kernel
 * its guest could not test (guestUntestedReason) would be untested again.
 */
export function retriable(run: RunRecord): boolean {
  return run.verdict === 'error' && run.disagreements === undefined && guestUntestedReason(run.reason) === undefined;
}

/** An execution on a kernel a guest already could not test: nothing boots, the reason is that guest's. */
export function untestedRun(repeat: number, attempt: number, reason: string): RunRecord {
  return { repeat, attempt, verdict: 'error', reason, durationMs: 0, dir: '' };
}

/** A cell's record from all its executions (verdict/repeat.ts composes their verdicts). */
export function cellRecord(identity: CellIdentity, p: CellProgress): CellRecord {
  const runs = [...p.runs].sort((a, b) => a.repeat - b.repeat || a.attempt - b.attempt);
  const c = combineRuns(runs);
  return {
    ...identity,
    verdict: c.verdict, reason: c.reason, durationMs: runs.reduce((t, r) => t + r.durationMs, 0), dir: c.from.dir,
    ...(c.from.guest !== undefined ? { guest: c.from.guest } : {}),
    ...(c.from.bootMs !== undefined ? { bootMs: c.from.bootMs } : {}),
    ...(p.kernelRelease !== undefined ? { kernelRelease: p.kernelRelease } : {}),
    ...(c.from.signature !== undefined ? { signature: c.from.signature } : {}),
    ...(c.from.disagreements !== undefined ? { disagreements: c.from.disagreements } : {}),
    ...(c.flaky ? { flaky: true } : {}),
    ...(c.from.sharedRun !== undefined ? { sharedRun: c.from.sharedRun } : {}),
    ...(runs.length > 1 ? { runs } : {}),
  };
}
