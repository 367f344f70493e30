import { CommanderError } from 'commander';
import { KernelBuildError } from '../../vm/kernel/build-errors.ts';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { parseMatrixArgs, type MatrixConfig } from '../config.ts';
import { UsageError } from '../errors.ts';
import { decideBisectExit, type BisectCell, type BisectDecision, type BisectStep } from '../verdict/bisect.ts';

export const BISECT_RUN_USAGE = `Usage: bisect-run [--tree <path>] [--signature <text>]... [matrix options]

Builds the current checkout of a kernel tree, runs the scenarios on it and exits for \`git bisect run\`:
0 good, 1 bad, 125 this commit cannot be tested (build failure, infrastructure error, kernel that does not
boot, or a failure other than --signature), 255 usage error (aborts the bisection).

  --tree <path>        kernel tree to build as it is checked out (default: the directory it was started
                       from, which is the tree's top level under \`git bisect run\`)
  --signature <text>   only this failure counts as bad (repeatable), e.g.
                       "BUG: kernel NULL pointer dereference @ bio_integrity_process"
                       or "<scenario id>: <disagreement kind>"; any other failure is 125
  --sought <scenario>  a scenario whose failure is looked for (repeatable; npm run bisect passes the bad
                       end's failing ones): if it skips, the commit cannot be tested (125), never good.
                       Scenarios named by a "<scenario id>: ..." signature are sought too; with neither
                       --signature nor --sought, every scenario is
  matrix options       --scenario, --patch, --kconfig, --make-arg, --boot-timeout, --memory, --results, ...
                       (see \`npm run matrix -- --help\`; --kernel is not allowed: the tree is the kernel)

  git bisect run /path/to/integrity-harness/harness/cli/bisect-run.ts --scenario 'integrity/*'
  git bisect run npm --prefix /path/to/integrity-harness run -s bisect-run -- --scenario 'integrity/*'
`;

export interface BisectRunArgs {
  cfg: Readonly<MatrixConfig>;
  signatures: string[];
  /** Scenarios whose failure is looked for (--sought): a skip of one is 125. */
  sought: string[];
}

function takeValue(argv: readonly string[], i: number, flag: string): string {
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('-')) throw new UsageError(`${flag} expects a value`);
  return value;
}

/** Splits bisect-run's own options from the matrix options, and makes the tree the run's only kernel. */
export function parseBisectRunArgs(argv: readonly string[], cwd: string): BisectRunArgs | 'help' {
  let tree = cwd;
  const signatures: string[] = [];
  const sought: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '-h' || flag === '--help') return 'help';
    if (flag === '--tree' || flag === '--signature' || flag === '--sought') {
      const value = inline ?? takeValue(argv, i++, flag);
      if (flag === '--tree') tree = value;
      else if (flag === '--sought') sought.push(value);
      else signatures.push(value);
    } else if (flag === '-k' || flag === '--kernel') {
      throw new UsageError(`${flag}: bisect-run builds the checked-out tree (--tree <path>); it takes no --kernel`);
    } else {
      rest.push(arg);
    }
  }
  try {
    // The tree comes first, so --patch/--kconfig/--make-arg anywhere bind to it.
    return { cfg: parseMatrixArgs(['--kernel', `tree:${tree}`, ...rest]), signatures, sought };
  } catch (e) {
    if (e instanceof CommanderError) return 'help';
    throw e;
  }
}

export interface BisectDeps {
  /** Host tools; throws UsageError (cannot install) or InfraError. */
  preflight(): Promise<void>;
  /** Builds the tree (or finds it in the cache); throws KernelBuildError when it does not build. */
  build(spec: KernelSpec): Promise<void>;
  /** Runs the cells of the (now built) kernel. */
  run(cfg: Readonly<MatrixConfig>): Promise<BisectCell[]>;
}

/** One `git bisect run` step: build, run, decide. Never throws: every way it ends is an exit code. */
export async function bisectStep(argv: readonly string[], cwd: string, deps: BisectDeps): Promise<BisectDecision | 'help'> {
  let args: BisectRunArgs | 'help';
  try {
    args = parseBisectRunArgs(argv, cwd);
  } catch (e) {
    if (e instanceof UsageError) return decideBisectExit({ kind: 'usage', message: e.message });
    return decideBisectExit({ kind: 'infra', message: (e as Error).message });
  }
  if (args === 'help') return 'help';
  let step: BisectStep;
  try {
    await deps.preflight();
    await deps.build(args.cfg.kernels[0]!);
    step = { kind: 'cells', cells: await deps.run(args.cfg) };
  } catch (e) {
    if (e instanceof UsageError) step = { kind: 'usage', message: e.message };
    else if (e instanceof KernelBuildError) step = { kind: 'build-failed', message: e.message };
    else step = { kind: 'infra', message: (e as Error).stack ?? String(e) };
  }
  return decideBisectExit(step, args.signatures, args.sought);
}
