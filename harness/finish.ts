import { applyBaseline, type LoadedRun } from './baseline.ts';
import { exitCodeForSummary } from './exit-code.ts';
import type { RunResults } from './results.ts';
import { untestedKernels } from './untested.ts';

/**
 * Compares with the baseline (if any), names the untested kernels, decides the exit code and marks the run
 * finished in summary.json.
 */
export async function finishRun(results: RunResults, status: 'complete' | 'interrupted', baseline?: LoadedRun, forcedExit?: number): Promise<number> {
  if (baseline !== undefined) applyBaseline(results.summary, baseline);
  results.summary.untested = untestedKernels(results.summary);
  const code = forcedExit ?? exitCodeForSummary(results.summary);
  await results.finish(status, code);
  return code;
}
