import type { CellRecord, Summary } from '../results.ts';
import type { Verdict } from '../verdict/types.ts';

export interface RunBeginInfo {
  runDir: string;
  /** Cells planned for this run (its shard) that will run: those on kernels that could not be prepared are left out (the end names each such kernel once). */
  cells: number;
  /** Cell executions planned (cells x --repeat; retries come on top). */
  executions: number;
  jobs: number;
  kernels: string[];
}

/** One execution of a cell: repetition `repeat` of `repeats`, attempt `attempt` (above 1 after a retried error). */
export interface ExecutionInfo {
  id: string;
  repeat: number;
  repeats: number;
  attempt: number;
}

export interface ExecutionEnd extends ExecutionInfo {
  verdict: Verdict;
  reason: string;
  durationMs: number;
}

/**
 * A reporter sees the run through these hooks, called in this order: onBegin; then for each execution of a
 * cell onExecutionBegin and onExecutionEnd, and once all of a cell's executions are done onCellEnd with the
 * combined record (cells interleave when run in parallel; cells on a kernel that could not be prepared, e.g.
 * an unavailable one, get no hook: they are in the summary, and the end names the kernel once); then onEnd
 * with the final summary. Every hook is optional; a throwing
 * reporter is reported on stderr and never ends the run (Playwright's rule).
 */
export interface Reporter {
  onBegin?(info: RunBeginInfo): void | Promise<void>;
  onExecutionBegin?(e: ExecutionInfo): void | Promise<void>;
  onExecutionEnd?(e: ExecutionEnd): void | Promise<void>;
  onCellEnd?(cell: CellRecord): void | Promise<void>;
  onEnd?(summary: Summary, runDir: string): void | Promise<void>;
}

export class Reporters {
  constructor(private readonly list: Reporter[], private readonly warn: (s: string) => void = (s) => process.stderr.write(s)) {}

  async emit<K extends keyof Reporter>(hook: K, ...args: Parameters<NonNullable<Reporter[K]>>): Promise<void> {
    for (const r of this.list) {
      const fn = r[hook] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (fn === undefined) continue;
      try {
        await fn.apply(r, args);
      } catch (err) {
        this.warn(`reporter ${r.constructor.name}.${hook} failed: ${(err as Error).message}\n`);
      }
    }
  }
}
