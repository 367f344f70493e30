import type { Verdict } from './run/observations.ts';

/**
 * The run's exit code, read by `git bisect run` (0 good, 125 skip, 1-127 bad; above 127 aborts):
 * 1 if any cell failed, crashed or hung; else 125 if any cell errored or every cell was skipped (the kernel
 * could not be fully judged); else 0. Usage and configuration errors exit 255 before any cell runs.
 */
export const EXIT_USAGE = 255;

export function exitCodeFor(verdicts: Verdict[]): number {
  if (verdicts.some((v) => v === 'fail' || v === 'crash' || v === 'hang')) return 1;
  if (verdicts.length === 0 || verdicts.some((v) => v === 'error') || verdicts.every((v) => v === 'skip')) return 125;
  return 0;
}
