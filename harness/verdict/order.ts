import type { Verdict } from './types.ts';

/**
 * Least to most severe: a cell's verdict over several executions is the most severe one seen. One execution's
 * verdict is decided in another order (execution.ts: skip, error, crash, hang, fail, pass as its evidence
 * comes: a crash on the console wins over how the steps ended).
 */
const SEVERITY: readonly Verdict[] = ['skip', 'pass', 'error', 'fail', 'hang', 'crash'];

/** The position of `v` in the severity order (skip 0 ... crash 5), for sorting the worst first. */
export function severity(v: Verdict): number {
  return SEVERITY.indexOf(v);
}

export function worstVerdict(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((w, v) => (severity(v) > severity(w) ? v : w), 'skip');
}

/** Verdicts that judge the kernel (error and skip judge nothing). */
export function isJudged(v: Verdict): boolean {
  return v !== 'error' && v !== 'skip';
}

/** The kernel did something wrong: fail, crash or hang. */
export function isFailure(v: Verdict): boolean {
  return v === 'fail' || v === 'crash' || v === 'hang';
}
