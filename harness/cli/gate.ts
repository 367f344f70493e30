/**
 * npm run gate -- --base <kernel> --candidate <kernel> [matrix options]: exit 0 when the candidate keeps or
 * fixes everything base passes, 1 on any regression or format incompatibility, 125 when it cannot be
 * judged, 255 on a usage error (harness/gate/).
 */
import { CommanderError } from 'commander';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import { runMain } from './main.ts';
import { finishRun } from '../finish.ts';
import { formatGateEnd } from '../gate/compare.ts';
import { parseGateArgs } from '../gate/config.ts';
import { planGate, runGate } from '../gate/run.ts';
import { planRecord } from '../plan.ts';
import { BUILD_REQUIREMENTS, COVERAGE_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { KcidbReporter } from '../report/kcidb/write.ts';
import { fileReporters } from '../reporters/files.ts';
import { LineReporter } from '../reporters/line.ts';
import { LiveReporter } from '../reporters/live.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults } from '../results.ts';
import { handleStopSignals } from './stop.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: string[]): Promise<number> {
  let cfg;
  try {
    cfg = parseGateArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) return 0; // --help
    throw e;
  }
  const gp = await planGate(cfg);
  const builds = [cfg.base, cfg.candidate].some(isSourceSpec);
  await preflight({ log, requirements: [...REQUIREMENTS, ...(builds ? BUILD_REQUIREMENTS : []), ...(cfg.matrix.coverage !== undefined ? COVERAGE_REQUIREMENTS : [])] });
  const results = await RunResults.create(cfg.matrix.resultsDir, ['gate', ...argv], { plan: planRecord(gp.plan) });
  log(`gate: base ${cfg.base.text} vs candidate ${cfg.candidate.text}: ${gp.plan.cells.length} cells, ${gp.compat.length * 2} compatibility cells -> ${results.dir}`);
  const reporters = new Reporters([process.stdout.isTTY ? new LiveReporter() : new LineReporter(), ...fileReporters(), ...(cfg.matrix.kcidb !== undefined ? [new KcidbReporter(cfg.matrix.kcidb, log)] : [])]);
  const stop = handleStopSignals(results, reporters, log);
  await runGate(cfg, gp, results, reporters, log, stop.signal);
  const interrupted = stop.stopping();
  if (interrupted !== undefined) return interrupted;
  const code = await finishRun(results, 'complete');
  await reporters.emit('onEnd', results.summary, results.dir);
  process.stdout.write(`\n${formatGateEnd(results.summary)}`);
  return code;
}

runMain('integrity-harness gate', () => main(process.argv.slice(2)));
