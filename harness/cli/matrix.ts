import { CommanderError } from 'commander';
import { loadRun } from '../baseline.ts';
import { parseMatrixArgs } from '../config.ts';
import { runMain } from './main.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import { BUILD_REQUIREMENTS, COVERAGE_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { KcidbReporter } from '../report/kcidb/write.ts';
import { fileReporters } from '../reporters/files.ts';
import { LineReporter } from '../reporters/line.ts';
import { LiveReporter } from '../reporters/live.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults } from '../results.ts';
import { runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import { handleStopSignals } from './stop.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: string[]): Promise<number> {
  let cfg;
  try {
    cfg = parseMatrixArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) return 0; // --help
    throw e;
  }
  const baseline = cfg.baseline !== undefined ? await loadRun(cfg.baseline) : undefined;
  const { scenarios, slowNotRun } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
  const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries, slowNotRun, ...(cfg.shard ? { shard: cfg.shard } : {}) });
  const builds = cfg.kernels.some(isSourceSpec);
  await preflight({ log, requirements: [...REQUIREMENTS, ...(builds ? BUILD_REQUIREMENTS : []), ...(cfg.coverage !== undefined ? COVERAGE_REQUIREMENTS : [])] });
  const results = await RunResults.create(cfg.resultsDir, ['matrix', ...argv], { plan: planRecord(plan) });
  if (plan.shard !== undefined) log(`shard ${plan.shard.index}/${plan.shard.total}: ${plan.cells.length} of ${plan.totalCells} cells`);
  const reporters = new Reporters([process.stdout.isTTY ? new LiveReporter() : new LineReporter(), ...fileReporters(), ...(cfg.kcidb !== undefined ? [new KcidbReporter(cfg.kcidb, log)] : [])]);
  const stop = handleStopSignals(results, reporters, log, baseline);
  await runMatrix(cfg, plan, results, reporters, log, stop.signal);
  const interrupted = stop.stopping();
  if (interrupted !== undefined) return interrupted;
  const code = await finishRun(results, 'complete', baseline);
  await reporters.emit('onEnd', results.summary, results.dir);
  return code;
}

runMain('integrity-harness', () => main(process.argv.slice(2)));
