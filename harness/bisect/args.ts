// `npm run bisect` arguments: its own (tree, ends, repeat, signature, results) and the matrix options every
// step passes on to bisect-run's step code.
import { join, resolve } from 'node:path';
import { repoRoot } from '../../vm/cache.ts';
import { UsageError } from '../errors.ts';
import { parseBisectRunArgs } from './step.ts';

export const BISECT_USAGE = `Usage: bisect --tree <path> --good <ref> --bad <ref> [--scenario <glob>]... [--repeat <n>]
              [--signature <text>]... [--results <dir>] [matrix options]

Finds the commit of a kernel tree that introduced a failure. Works in a git worktree of <path> under the cache
(the checkout at <path> is never touched; the worktree is removed at the end): confirms that --bad fails and
--good passes, takes the bad end's failure signatures, then bisects with \`git bisect\`, building and running
the scenarios at each step. A step that fails differently (another oops, another scenario), does not build or
does not boot is skipped, not blamed.

  --tree <path>        a git kernel tree
  --good <ref>         a commit that passes (an ancestor of --bad)
  --bad <ref>          a commit that fails
  --repeat <n>         run each step up to n times: bad as soon as one run shows the signature (an
                       intermittent bug is still found), good only when all n runs pass
  --signature <text>   look for this failure instead of the bad end's (repeatable)
                       (a step where a scenario that showed it on the bad end skips is untestable: skipped,
                       never good)
  --results <dir>      results root (default results/): <dir>/<run-id>/bisect.json, steps.jsonl, steps/
  matrix options       --scenario, --slow, --patch, --kconfig, --make-arg, --jobs, --boot-timeout, ... (no --kernel);
                       without --scenario the default library runs (no slow scenarios; --slow adds them)

Exit: 0 first bad commit found, 125 not decided (ends not confirmed, or only untestable commits left),
255 usage error (bad option, ref that names no commit, --good not an ancestor of --bad) or interrupted.
`;

export interface BisectArgs {
  tree: string;
  good: string;
  bad: string;
  repeat: number;
  /** Given with --signature; empty: derived from the bad end. */
  signatures: string[];
  resultsRoot: string;
  /** Matrix options for every step (without --results, which the driver sets per run). */
  stepArgs: string[];
}

const OWN = new Set(['--tree', '--good', '--bad', '--repeat', '--signature', '--results']);

export function parseBisectArgs(argv: readonly string[]): BisectArgs | 'help' {
  const own: Record<string, string[]> = {};
  const stepArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const [flag, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    if (flag === '-h' || flag === '--help') return 'help';
    if (!OWN.has(flag)) {
      stepArgs.push(arg);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      i += 1;
    }
    if (value === undefined || value === '' || value.startsWith('-')) throw new UsageError(`${flag} expects a value`);
    (own[flag] ??= []).push(value);
  }
  const one = (flag: string): string => {
    const values = own[flag] ?? [];
    if (values.length === 0) throw new UsageError(`${flag} is required (see --help)`);
    if (values.length > 1) throw new UsageError(`${flag} given ${values.length} times`);
    return values[0]!;
  };
  const repeatText = own['--repeat']?.at(-1) ?? '1';
  const repeat = Number(repeatText);
  if (!/^\d+$/.test(repeatText) || repeat < 1) throw new UsageError(`--repeat expects a positive integer, got '${repeatText}'`);
  const tree = resolve(one('--tree'));
  // The step's own parser judges the matrix options now, so a typo is a usage error before any build.
  if (parseBisectRunArgs(stepArgs, tree) === 'help') return 'help';
  return {
    tree,
    good: one('--good'),
    bad: one('--bad'),
    repeat,
    signatures: own['--signature'] ?? [],
    resultsRoot: resolve(own['--results']?.at(-1) ?? join(repoRoot(), 'results')),
    stepArgs,
  };
}
