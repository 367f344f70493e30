import type { CellRecord, Summary } from '../results.ts';

/**
 * A reporter sees the run through these hooks, called in this order: onBegin, then per cell onCellBegin
 * and onCellEnd (cells interleave when run in parallel), then onEnd. Every hook is optional; a throwing
 * reporter is reported on stderr and never ends the run (Playwright's rule).
 */
export interface Reporter {
  onBegin?(info: { runDir: string; cells: number; kernels: string[] }): void | Promise<void>;
  onCellBegin?(cell: { id: string }): void | Promise<void>;
  onCellEnd?(cell: CellRecord): void | Promise<void>;
  onEnd?(summary: Summary, runDir: string): void | Promise<void>;
}

export class Reporters {
  constructor(private readonly list: Reporter[]) {}

  async emit<K extends keyof Reporter>(hook: K, ...args: Parameters<NonNullable<Reporter[K]>>): Promise<void> {
    for (const r of this.list) {
      const fn = r[hook] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (fn === undefined) continue;
      try {
        await fn.apply(r, args);
      } catch (err) {
        process.stderr.write(`reporter ${r.constructor.name}.${hook} failed: ${(err as Error).message}\n`);
      }
    }
  }
}
