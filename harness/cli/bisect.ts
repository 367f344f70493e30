/**
 * npm run bisect -- --tree <path> --good <ref> --bad <ref> [--scenario <glob>] [--repeat N] [matrix options]
 *
 * Exit 0: first bad commit found; 125: not decided; 255: usage error or interrupted. See harness/bisect/args.ts.
 */
import tmp from 'tmp';
import { cacheDir } from '../../vm/cache.ts';
import { liveGuests } from '../../vm/qemu/guest.ts';
import { BISECT_USAGE, parseBisectArgs } from '../bisect/args.ts';
import { realBisectDeps, type RealBisectDeps } from '../bisect/deps.ts';
import { liveBuildSteps, stopBuildSteps } from '../../vm/kernel/build-run.ts';
import { runBisect } from '../bisect/drive.ts';
import type { Worktree } from '../bisect/git.ts';
import type { BisectRecord } from '../bisect/record.ts';
import { bisectStep } from '../bisect/step.ts';
import { EXIT_ABORT, EXIT_SKIP } from '../verdict/exit-code.ts';
import { UsageError } from '../errors.ts';
import { onStopSignals, stopGuests, type StopSignals } from './signals.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);

let active: { wt: Worktree; record: BisectRecord } | undefined;
let resultsDir: string | undefined;
let deps: RealBisectDeps = realBisectDeps({ log, command: ['bisect'] });
let signals: StopSignals | undefined;

// The worktree must not outlive the bisection, whatever ends it; nor may a make still write into it.
async function stopBisect(sig: NodeJS.Signals): Promise<number> {
  log(`bisect: ${sig}: stopping ${liveGuests().length} guest(s) and ${liveBuildSteps()} build step(s), removing the worktree`);
  await stopGuests().catch(() => undefined);
  await stopBuildSteps().catch((e: unknown) => log(`bisect: stopping the build: ${(e as Error).message}`));
  await deps.interrupt(EXIT_ABORT).catch((e: unknown) => log(`bisect: marking the step's run interrupted: ${(e as Error).message}`));
  await active?.record.finish({ status: 'interrupted', message: sig, exitCode: EXIT_ABORT }).catch((e: unknown) => log(`bisect: writing bisect.json: ${(e as Error).message}`));
  await active?.wt.remove().catch((e: unknown) => log(`bisect: ${(e as Error).message}`));
  return EXIT_ABORT;
}

async function main(argv: string[]): Promise<number> {
  tmp.setGracefulCleanup();
  // npm runs scripts in the package directory: paths on the command line are relative to where the user was.
  if (process.env.npm_lifecycle_event === 'bisect' && process.env.INIT_CWD !== undefined) process.chdir(process.env.INIT_CWD);
  let args;
  try {
    args = parseBisectArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    log(`bisect: ${e.message}`);
    return EXIT_ABORT;
  }
  if (args === 'help') {
    process.stdout.write(BISECT_USAGE);
    return 0;
  }
  signals = onStopSignals({ first: (sig) => stopBisect(sig).catch(() => EXIT_ABORT), again: () => EXIT_ABORT });
  deps = realBisectDeps({ log, command: ['bisect', ...argv], onRun: (dir) => (resultsDir = dir), coverage: argv.some((a) => a === '--coverage' || a.startsWith('--coverage-file')) });
  const outcome = await runBisect(args, {
    log,
    worktreeRoot: cacheDir('bisect'),
    onStart: (wt, record) => (active = { wt, record }),
    async step(stepArgv, cwd) {
      resultsDir = undefined;
      const d = await bisectStep(stepArgv, cwd, deps);
      if (d === 'help') throw new Error('bisect step: arguments were checked before; --help cannot come back');
      return { ...d, ...(resultsDir !== undefined ? { resultsDir } : {}) };
    },
  });
  active = undefined;
  if (outcome.code === EXIT_ABORT && outcome.record === undefined) log(`bisect: ${outcome.message}`);
  else process.stdout.write(`${outcome.message}\n`);
  if (outcome.record) process.stdout.write(`written ${outcome.record.dir}/bisect.json\n`);
  return outcome.code;
}

// Once a signal is being handled, its handler exits (after removing the worktree), not the main flow.
const stopping = () => signals?.stopping() !== undefined;
main(process.argv.slice(2)).then(
  (code) => {
    if (!stopping()) process.exit(code);
  },
  (e: unknown) => {
    if (stopping()) return;
    // A usage error found late (another bisection holds the worktree) aborts; anything else leaves it undecided.
    if (e instanceof UsageError) {
      log(`bisect: ${e.message}`);
      process.exit(EXIT_ABORT);
    }
    log(`bisect: ${(e as Error).stack ?? String(e)}`);
    process.exit(EXIT_SKIP);
  },
);
