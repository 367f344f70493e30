/**
 * How every run-producing command (matrix, gate, merge) ends its run, complete or interrupted: the baseline,
 * the exit code and summary.json (finishRun), the summary checked where the command asks, then the
 * reporters' onEnd. pipeline.ts and stop.ts end matrix and gate runs through it; merge.ts its merged run.
 */
import type { LoadedRun } from '../load-run.ts';
import { finishRun } from '../finish.ts';
import type { Reporters } from '../reporters/reporter.ts';
import type { RunResults, Summary } from '../results.ts';

export interface EndRunOptions {
  baseline?: LoadedRun;
  /** the exit code, whatever the summary says (a signal's) */
  forcedExit?: number;
  /** checks the final summary before any report is written from it; throws when it is not sound */
  check?(summary: Summary): void;
}

export async function endRun(results: RunResults, reporters: Reporters, status: 'complete' | 'interrupted', o: EndRunOptions = {}): Promise<number> {
  const code = await finishRun(results, status, o.baseline, o.forcedExit);
  o.check?.(results.summary);
  await reporters.emit('onEnd', results.summary, results.dir);
  return code;
}
