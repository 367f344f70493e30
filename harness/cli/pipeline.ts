/**
 * The pipeline every command that runs cells shares (matrix, gate): preflight for what the kernels need, a
 * run directory with the plan, the reporters (live or line, the files, KCIDB when asked), Ctrl-C and SIGTERM
 * handling, then the run's end (end-run.ts: summary, exit code, onEnd). The command says what it runs between.
 * merge runs no cells: it parses its arguments and ends its merged run the same way.
 */
import { CommanderError } from 'commander';
import type { LoadedRun } from '../load-run.ts';
import { planRecord, type Plan } from '../plan.ts';
import { BUILD_REQUIREMENTS, COVERAGE_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import type { KcidbOutput } from '../report/kcidb/options.ts';
import { KcidbReporter } from '../report/kcidb/write.ts';
import { fileReporters } from '../reporters/files.ts';
import { LineReporter } from '../reporters/line.ts';
import { LiveReporter } from '../reporters/live.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults } from '../results.ts';
import { endRun } from './end-run.ts';
import { handleStopSignals } from './stop.ts';

export const log = (s: string): void => void process.stderr.write(`${s}\n`);

export interface Pipeline {
  /** the command's name, first in summary.command */
  command: string;
  argv: string[];
  plan: Plan;
  resultsDir: string;
  /** a kernel is built from source (the build tools are required) */
  builds: boolean;
  coverage: boolean;
  kcidb?: KcidbOutput;
  baseline?: LoadedRun;
  /** runs the cells into `results`; returns when they are done or `signal` stops them */
  run(results: RunResults, reporters: Reporters, signal: AbortSignal): Promise<unknown>;
  /** after the run directory exists: a line saying what is about to run */
  announce?(results: RunResults): void;
  /** after the summary is final: the command's own closing output */
  end?(results: RunResults): void;
}

export async function runPipeline(p: Pipeline): Promise<number> {
  await preflight({ log, requirements: [...REQUIREMENTS, ...(p.builds ? BUILD_REQUIREMENTS : []), ...(p.coverage ? COVERAGE_REQUIREMENTS : [])] });
  const results = await RunResults.create(p.resultsDir, [p.command, ...p.argv], { plan: planRecord(p.plan) });
  p.announce?.(results);
  const reporters = new Reporters([process.stdout.isTTY ? new LiveReporter() : new LineReporter(), ...fileReporters(), ...(p.kcidb !== undefined ? [new KcidbReporter(p.kcidb, log)] : [])]);
  const stop = handleStopSignals(results, reporters, log, p.baseline);
  await p.run(results, reporters, stop.signal);
  const interrupted = stop.stopping();
  if (interrupted !== undefined) return interrupted;
  const code = await endRun(results, reporters, 'complete', p.baseline !== undefined ? { baseline: p.baseline } : {});
  p.end?.(results);
  return code;
}

/** The parsed options, or undefined when commander printed --help (the command exits 0). */
export function parsedOrHelp<T>(parse: () => T): T | undefined {
  try {
    return parse();
  } catch (e) {
    if (e instanceof CommanderError) return undefined;
    throw e;
  }
}
