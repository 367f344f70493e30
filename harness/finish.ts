import { summarizeCoverage } from './coverage/run.ts';
import type { LoadedRun } from './load-run.ts';
import { recordBaseline, type RunResults } from './results.ts';
import { untestedKernels } from './untested.ts';
import { compareWithBaseline } from './verdict/baseline.ts';
import { exitCodeForSummary } from './verdict/exit-code.ts';

/**
 * Compares with the baseline (if any), names the untested kernels, decides the exit code and marks the run
 * finished in summary.json.
 */
export async function finishRun(results: RunResults, status: 'complete' | 'interrupted', baseline?: LoadedRun, forcedExit?: number): Promise<number> {
  if (baseline !== undefined) recordBaseline(results.summary, compareWithBaseline(results.summary, baseline));
  results.summary.untested = untestedKernels(results.summary);
  // Coverage is read once the guests are gone; an interrupted run keeps its counters for no summary.
  if (status === 'complete') {
    const coverage = await summarizeCoverage(results.summary, results.dir);
    if (coverage !== undefined) results.summary.coverage = coverage;
  }
  const code = forcedExit ?? exitCodeForSummary(results.summary);
  await results.finish(status, code);
  return code;
}
