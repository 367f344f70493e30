import { CommanderError } from 'commander';
import tmp from 'tmp';
import { liveGuests } from '../../vm/qemu/guest.ts';
import { parseMatrixArgs } from '../config.ts';
import { InfraError, UsageError } from '../errors.ts';
import { EXIT_USAGE } from '../exit-code.ts';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import { BUILD_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { LineReporter } from '../reporters/line.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults } from '../results.ts';
import { runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

async function main(argv: string[]): Promise<number> {
  tmp.setGracefulCleanup();
  let cfg;
  try {
    cfg = parseMatrixArgs(argv);
  } catch (e) {
    if (e instanceof CommanderError) return 0; // --help
    throw e;
  }
  const builds = cfg.kernels.some(isSourceSpec);
  await preflight({ log, requirements: builds ? [...REQUIREMENTS, ...BUILD_REQUIREMENTS] : REQUIREMENTS });
  const scenarios = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs);
  const results = await RunResults.create(cfg.resultsDir, ['matrix', ...argv]);
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(130); // a second Ctrl-C forces it
    interrupted = true;
    log(`\n${sig}: stopping ${liveGuests().length} guest(s); summary stays in ${results.dir}`);
    void Promise.all(liveGuests().map((g) => g.kill(1000))).then(async () => {
      await results.finish('interrupted', 130);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const reporters = new Reporters([new LineReporter()]);
  const code = await runMatrix(cfg, scenarios, results, reporters, log);
  await results.finish('complete', code);
  await reporters.emit('onEnd', results.summary, results.dir);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`integrity-harness: ${e.message}\n`);
      process.exit(EXIT_USAGE);
    }
    const msg = e instanceof InfraError ? e.message : ((e as Error).stack ?? String(e));
    process.stderr.write(`integrity-harness: infrastructure error: ${msg}\n`);
    process.exit(125);
  },
);
