import type { BaselineChange, GateRecord, Summary } from '../results.ts';
import { untestedKernels } from '../untested.ts';
import { isFailure } from './order.ts';
import type { Verdict } from './types.ts';

/**
 * The run's exit code, read by `git bisect run` and CI (0 good, 125 skip, 1-127 bad; above 127 aborts):
 * 1 if any cell failed, crashed or hung; else 125 if any cell errored or every cell was skipped (the kernel
 * could not be fully judged); else 0. Usage and configuration errors exit 255 (EXIT_ABORT) before any cell runs.
 *
 * On top of that, for a whole run (exitCodeForSummary), "not tested" is never 0: a run with an untested
 * kernel (untested.ts: could not be had, patch did not apply, did not build, its guest could not load the
 * modules the stacks need, or no cell on it was judged) or that is incomplete (a merge that lacks a shard or
 * holds an interrupted one) exits 125 unless a real failure or regression makes it 1. A cell `skip` because
 * the kernel legitimately lacks what its scenario requires (a dm target or a cipher the kernel's
 * configuration does not have: no module and nothing built in provides it) judges nothing and changes
 * nothing by itself; a cipher whose module the image ships but that the guest could not load is the kernel
 * untested (harness/run/session/guest-untested.ts), not a skip.
 */
export const EXIT_GOOD = 0;
export const EXIT_BAD = 1;
/** Not judged: git bisect run skips the commit. */
export const EXIT_SKIP = 125;
/** A usage or configuration error, or a bisection stopped: git bisect run aborts. */
export const EXIT_ABORT = 255;

export function exitCodeFor(verdicts: Verdict[]): number {
  if (verdicts.some(isFailure)) return EXIT_BAD;
  if (verdicts.length === 0 || verdicts.some((v) => v === 'error') || verdicts.every((v) => v === 'skip')) return EXIT_SKIP;
  return EXIT_GOOD;
}

/**
 * With --baseline only the comparison decides: 1 if any cell regressed (passed there, fails, crashes or
 * hangs now); else 125 if a cell that passed there could not be judged now (error, skip) or no cell could be
 * compared at all; else 0, whatever else fails (it failed in the baseline too, or is new).
 */
export function exitCodeWithBaseline(changes: BaselineChange[]): number {
  if (changes.includes('regression')) return EXIT_BAD;
  if (changes.includes('unjudged') || changes.every((c) => c === 'new')) return EXIT_SKIP;
  return EXIT_GOOD;
}

/**
 * A gate run (npm run gate): 1 if any cell regressed (passed on base, failed, crashed or hung on the candidate)
 * or any compatibility cell failed; else 125 if a cell could not be judged (base passed and the candidate
 * errored or skipped, base errored where the candidate fails, a compatibility cell errored) or no cell was
 * judged on both sides (a kernel did not build, everything skipped); else 0, however many cells fail on both.
 */
export function exitCodeForGate(g: Pick<GateRecord, 'regressions' | 'unjudged' | 'compared'>): number {
  if (g.regressions > 0) return EXIT_BAD;
  if (g.unjudged > 0 || g.compared === 0) return EXIT_SKIP;
  return EXIT_GOOD;
}

/**
 * The exit code of a finished run: by its gate or baseline comparison when it has one, else by its verdicts;
 * then 125 instead of 0 when a kernel went untested or the run is incomplete (see above).
 */
export function exitCodeForSummary(s: Pick<Summary, 'cells' | 'baseline' | 'plan' | 'gate'> & Partial<Pick<Summary, 'kernels' | 'incomplete'>>): number {
  const judged = judgedExitCode(s);
  if (judged === EXIT_BAD) return EXIT_BAD;
  if (untestedKernels({ kernels: s.kernels ?? [], cells: s.cells }).length > 0 || (s.incomplete?.length ?? 0) > 0) return EXIT_SKIP;
  return judged;
}

function judgedExitCode(s: Pick<Summary, 'cells' | 'baseline' | 'plan' | 'gate'>): number {
  if (s.gate !== undefined) return exitCodeForGate(s.gate);
  // A shard can be dealt no cells at all (more shards than cells): nothing was asked of it.
  if (s.cells.length === 0 && s.plan?.shard !== undefined && s.plan.cells === 0) return EXIT_GOOD;
  if (s.baseline !== undefined) return exitCodeWithBaseline(s.cells.map((c) => c.baseline?.change ?? 'new'));
  return exitCodeFor(s.cells.map((c) => c.verdict));
}
