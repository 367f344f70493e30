#!/bin/sh
":" //# ; here=$(dirname "$(readlink -f "$0")"); exec node --import "$here/../../node_modules/tsx/dist/loader.mjs" "$0" "$@"
// `git bisect run` step: build the checked-out tree, run the scenarios, exit 0 good / 1 bad / 125 skip / 255 abort.
// The two lines above make this file its own launcher (`git bisect run /path/to/harness/cli/bisect-run.ts`):
// sh runs the second line, which starts node with tsx from this repository; to TypeScript it is a no-op.
import tmp from 'tmp';
import { liveGuests } from '../../vm/qemu/guest.ts';
import { realBisectDeps } from '../bisect/deps.ts';
import { liveBuildSteps, stopBuildSteps } from '../../vm/kernel/build-run.ts';
import { EXIT_ABORT } from '../verdict/exit-code.ts';
import { BISECT_RUN_USAGE, bisectStep } from '../bisect/step.ts';
import { onStopSignals, stopGuests } from './signals.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const deps = realBisectDeps({ log, command: ['bisect-run', ...process.argv.slice(2)], coverage: process.argv.slice(2).some((a) => a === '--coverage' || a.startsWith('--coverage-file')) });

// Ctrl-C ends the bisection, not just this step: 255 makes `git bisect run` stop. The step's run is left
// `interrupted` (not `running`), and no make outlives this process in the user's tree.
async function stopStep(sig: NodeJS.Signals): Promise<number> {
  log(`bisect-run: ${sig}: stopping ${liveGuests().length} guest(s) and ${liveBuildSteps()} build step(s)`);
  await stopGuests().catch(() => undefined);
  await stopBuildSteps().catch((e: unknown) => log(`bisect-run: stopping the build: ${(e as Error).message}`));
  await deps.interrupt(EXIT_ABORT).catch((e: unknown) => log(`bisect-run: marking the run interrupted: ${(e as Error).message}`));
  return EXIT_ABORT;
}

async function main(): Promise<number> {
  tmp.setGracefulCleanup();
  onStopSignals({ first: (sig) => stopStep(sig).catch(() => EXIT_ABORT), again: () => EXIT_ABORT });
  // npm runs scripts in the package directory; INIT_CWD is where the user (or git bisect) started it.
  const viaNpm = process.env.npm_lifecycle_event === 'bisect-run' && process.env.INIT_CWD !== undefined;
  const cwd = viaNpm ? process.env.INIT_CWD! : process.cwd();
  const decision = await bisectStep(process.argv.slice(2), cwd, deps);
  if (decision === 'help') {
    process.stdout.write(BISECT_RUN_USAGE);
    return 0;
  }
  log(`bisect-run: exit ${decision.code}: ${decision.reason}`);
  return decision.code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`bisect-run: ${(e as Error).stack ?? String(e)}`);
    process.exit(125);
  },
);
