import { loadRun } from '../load-run.ts';
import { parseMatrixArgs } from '../config.ts';
import { runMain } from './main.ts';
import { planMatrix } from '../plan.ts';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import { runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import { log, parsedOrHelp, runPipeline } from './pipeline.ts';

async function main(argv: string[]): Promise<number> {
  const cfg = parsedOrHelp(() => parseMatrixArgs(argv));
  if (cfg === undefined) return 0;
  const baseline = cfg.baseline !== undefined ? await loadRun(cfg.baseline) : undefined;
  const { scenarios, slowNotRun } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
  const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries, slowNotRun, ...(cfg.shard ? { shard: cfg.shard } : {}) });
  return runPipeline({
    command: 'matrix', argv, plan, resultsDir: cfg.resultsDir, builds: cfg.kernels.some(isSourceSpec), coverage: cfg.coverage !== undefined,
    ...(cfg.kcidb !== undefined ? { kcidb: cfg.kcidb } : {}), ...(baseline !== undefined ? { baseline } : {}),
    announce: () => {
      if (plan.shard !== undefined) log(`shard ${plan.shard.index}/${plan.shard.total}: ${plan.cells.length} of ${plan.totalCells} cells`);
    },
    run: (results, reporters, signal) => runMatrix(cfg, plan, results, reporters, log, signal),
  });
}

runMain('integrity-harness', () => main(process.argv.slice(2)));
