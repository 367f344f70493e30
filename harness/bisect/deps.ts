// The real builder and runner behind a bisect step (bisect-run and npm run bisect): the same code as the matrix.
import { provideKernel } from '../../vm/kernel/provider.ts';
import { BUILD_REQUIREMENTS, COVERAGE_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { LineReporter } from '../reporters/line.ts';
import { Reporters } from '../reporters/reporter.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { RunResults } from '../results.ts';
import { runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import type { BisectDeps } from './step.ts';
import type { BisectCell } from '../verdict/bisect.ts';

export interface RealDepsOptions {
  log: (line: string) => void;
  /** Recorded as the command of each step's run. */
  command: string[];
  /** Told the results directory of each step's run. */
  onRun?: (dir: string) => void;
  /** The steps build with --coverage: preflight checks lcov's tools too. */
  coverage?: boolean;
}

export interface RealBisectDeps extends BisectDeps {
  /**
   * For a signal handler: nothing new boots, and the step's run (if one is under way) is finished as
   * `interrupted` with `code`, so its summary.json never stays `running`. The caller still kills the guests
   * and stops the build (vm/kernel/build-run.ts, stopBuildSteps).
   */
  interrupt(code: number): Promise<void>;
}

export function realBisectDeps(opts: RealDepsOptions): RealBisectDeps {
  const { log } = opts;
  const stop = new AbortController();
  let current: RunResults | undefined;
  return {
    async interrupt(code) {
      stop.abort();
      const run = current;
      current = undefined;
      if (run !== undefined) await finishRun(run, 'interrupted', undefined, code);
    },
    async preflight() {
      // lcov too: a step's --coverage is only known per run, and the tools are small
      await preflight({ log, requirements: [...REQUIREMENTS, ...BUILD_REQUIREMENTS, ...(opts.coverage === true ? COVERAGE_REQUIREMENTS : [])] });
    },
    async build(spec) {
      await provideKernel(spec, { log: (line) => log(`build: ${line}`) });
    },
    async run(cfg) {
      const { scenarios, slowNotRun } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
      const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries, slowNotRun });
      if (stop.signal.aborted) throw new Error('bisect step: interrupted before its run began');
      const results = await RunResults.create(cfg.resultsDir, opts.command, { plan: planRecord(plan) });
      current = results;
      opts.onRun?.(results.dir);
      const reporters = new Reporters([new LineReporter((s) => process.stderr.write(s))]);
      await runMatrix(cfg, plan, results, reporters, log, stop.signal);
      // A signal finished the run as interrupted meanwhile: it stays so.
      if (current !== results) throw new Error('bisect step: interrupted');
      current = undefined;
      await finishRun(results, 'complete');
      await reporters.emit('onEnd', results.summary, results.dir);
      return results.summary.cells.map((c): BisectCell => ({
        id: c.id,
        scenario: c.scenario,
        verdict: c.verdict,
        booted: c.bootMs !== undefined,
        reason: c.reason,
        ...(c.signature !== undefined ? { signature: c.signature } : {}),
      }));
    },
  };
}
