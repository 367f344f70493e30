/**
 * npm run gate -- --base <kernel> --candidate <kernel> [matrix options]: exit 0 when the candidate keeps or
 * fixes everything base passes, 1 on any regression or format incompatibility, 125 when it cannot be
 * judged, 255 on a usage error (harness/gate/).
 */
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import { runMain } from './main.ts';
import { formatGateEnd } from '../gate/end-text.ts';
import { parseGateArgs } from '../gate/config.ts';
import { planGate, runGate } from '../gate/run.ts';
import { log, parsedOrHelp, runPipeline } from './pipeline.ts';

async function main(argv: string[]): Promise<number> {
  const cfg = parsedOrHelp(() => parseGateArgs(argv));
  if (cfg === undefined) return 0;
  const gp = await planGate(cfg);
  return runPipeline({
    command: 'gate', argv, plan: gp.plan, resultsDir: cfg.matrix.resultsDir, builds: [cfg.base, cfg.candidate].some(isSourceSpec),
    coverage: cfg.matrix.coverage !== undefined, ...(cfg.matrix.kcidb !== undefined ? { kcidb: cfg.matrix.kcidb } : {}),
    announce: (results) => log(`gate: base ${cfg.base.text} vs candidate ${cfg.candidate.text}: ${gp.plan.cells.length} cells, ${gp.compat.length * 2} compatibility cells -> ${results.dir}`),
    run: (results, reporters, signal) => runGate(cfg, gp, results, reporters, log, signal),
    end: (results) => void process.stdout.write(`\n${formatGateEnd(results.summary)}`),
  });
}

runMain('integrity-harness gate', () => main(process.argv.slice(2)));
