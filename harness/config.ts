import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { repoRoot } from '../vm/cache.ts';
import { MIRROR_SOURCES, parseMirrorOptions, resolveMirrors, type Mirrors } from '../vm/fetch/mirrors.ts';
import { checkCoverageObjects, DEFAULT_COVERAGE_OBJECTS, readCoverageFile } from '../vm/kernel/build-coverage.ts';
import { isSourceSpec, withCoverage, type KernelSpec } from '../vm/kernel/spec.ts';
import { UsageError } from './errors.ts';
import { parseShard } from './plan.ts';
import type { ShardSpec } from './results.ts';
import { KernelOptionRecorder } from './kernel-options.ts';
import { addKcidbOptions, kcidbOutput, type KcidbOutput } from './report/kcidb/options.ts';

/** Everything a matrix run needs, resolved from CLI over environment over defaults, then frozen. */
export interface MatrixConfig {
  kernels: KernelSpec[];
  modules?: string;
  scenarioGlobs: string[];
  /** Without --scenario, run the scenarios marked `slow` too (--slow); the default library leaves them out. */
  slow: boolean;
  scenariosDir: string;
  resultsDir: string;
  jobs: number;
  bootTimeoutMs: number;
  memoryMb: number;
  cpus: number;
  keepDisks: boolean;
  accel?: string;
  /** Executions per cell (--repeat); mixed verdicts make a cell flaky. */
  repeat: number;
  /** Extra attempts for an execution whose verdict is `error` (--retries). */
  retries: number;
  shard?: ShardSpec;
  /** Scenarios one booted guest runs one after the other (--share-guest; 1: a guest per execution). */
  shareGuest: number;
  /** Run directory (or its summary.json) to compare against (--baseline). */
  baseline?: string;
  /** Where kernels are downloaded from, per source (--mirror over IH_MIRROR_* over the canonical hosts). */
  mirrors: Mirrors;
  /** --kcidb: also write the run as KCIDB I/O data when it ends. */
  kcidb?: KcidbOutput;
  /** --coverage: the objects every kernel built from source profiles (harness/coverage/). */
  coverage?: string[];
}

/** Scenarios per guest unless --share-guest says otherwise (measured: docs/ARCHITECTURE.md, "Shared guests"). */
export const DEFAULT_SHARE_GUEST = 16;

/** The default kernel: the newest Debian 6.1 package. */
export const DEFAULT_KERNEL = '6.1';

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} expects a non-negative integer, got '${v}'`);
    return n;
  };
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} expects a positive integer, got '${v}'`);
    return n;
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Each guest takes ~1 core under TCG and memoryMb of RAM; leave the host some of both. */
export function defaultJobs(memoryMb: number): number {
  const byCpu = Math.max(1, availableParallelism());
  const byMem = Math.max(1, Math.floor((totalmem() / 1024 / 1024 - 2048) / (memoryMb + 256)));
  return Math.min(byCpu, byMem);
}

/** The options of how cells run, shared by `matrix` and `gate`. */
export function addRunOptions(cmd: Command): Command {
  cmd
    .option('--modules <dir>', 'module tree for a bzImage kernel (lib/modules/<release> or a root containing it)')
    .option('-s, --scenario <glob>', 'only scenarios whose id matches (e.g. "integrity/*"; repeatable); slow ones it matches run too', collect, [])
    .option('--slow', 'also run the scenarios marked slow (crash/*: minutes each under TCG), which the default library leaves out', false)
    .option('--results <dir>', 'results root', join(repoRoot(), 'results'))
    .option('-j, --jobs <n>', 'cells run in parallel (default: from cores and memory)', positiveInt('--jobs'))
    .option('--boot-timeout <seconds>', 'seconds until a guest that has not reached its agent is a hang', positiveInt('--boot-timeout'), 90)
    .option('--memory <mb>', 'guest memory in MiB', positiveInt('--memory'), 768)
    .option('--cpus <n>', 'guest CPUs', positiveInt('--cpus'), 1)
    .option('--keep-disks', 'keep disk images of passing cells', false)
    .option('--repeat <n>', 'run each cell n times; cells with mixed verdicts are reported as flaky', positiveInt('--repeat'), 1)
    .option('--retries <n>', 'run an execution again up to n times when its verdict is error (infrastructure only)', nonNegativeInt('--retries'), 0)
    .option('--mirror <source=url>', `download kernels from a mirror of ${Object.keys(MIRROR_SOURCES).join(', ')} (repeatable; env IH_MIRROR_KERNEL_ORG etc.)`, collect, [])
    .option('--share-guest <n>', 'scenarios run one after the other in one booted guest, each on fresh disks (1: a guest per cell)', positiveInt('--share-guest'), DEFAULT_SHARE_GUEST)
    .option('--coverage', `build src:/tree: kernels with gcov counters for the integrity path (${DEFAULT_COVERAGE_OBJECTS.map((o) => o.replace(/^.*\//, '')).join(', ')}) and record each scenario's coverage (a separate build)`, false)
    .option('--coverage-file <path>', 'more objects to profile, one path a line (e.g. drivers/md/dm-bufio.o); implies --coverage (repeatable)', collect, []);
  return addKcidbOptions(cmd, true);
}

/** Parses argv with a command, turning commander's errors into usage errors (help and version pass through). */
export function parseCommand(cmd: Command, argv: string[]): void {
  cmd.exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) })
    .allowExcessArguments(false);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError && (e.code === 'commander.helpDisplayed' || e.code === 'commander.version')) throw e;
    throw new UsageError((e as Error).message.replace(/^error: /, ''), { cause: e });
  }
}

/** What addRunOptions' options parse to. */
export interface RunOptionValues {
  modules?: string; scenario: string[]; slow: boolean; results: string; jobs?: number; bootTimeout: number; memory: number; cpus: number; keepDisks: boolean;
  repeat: number; retries: number; shareGuest: number; mirror: string[];
  kcidb?: string; kcidbOrigin: string; kcidbUrl?: string;
  coverage: boolean; coverageFile: string[];
}

/** The objects --coverage and --coverage-file ask for, or undefined without either. */
function coverageObjects(o: Pick<RunOptionValues, 'coverage' | 'coverageFile'>): string[] | undefined {
  if (!o.coverage && o.coverageFile.length === 0) return undefined;
  try {
    return checkCoverageObjects([...DEFAULT_COVERAGE_OBJECTS, ...o.coverageFile.flatMap(readCoverageFile)], '--coverage-file');
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

// Coverage needs a kernel built here (gcov is compiled in); a packaged kernel in the same run just has none.
function withCoverageKernels(kernels: KernelSpec[], objects: readonly string[]): KernelSpec[] {
  if (!kernels.some(isSourceSpec)) {
    throw new UsageError('--coverage needs a kernel built from source (--kernel src:<version> or tree:<path>): gcov counters are compiled in');
  }
  return kernels.map((k) => (isSourceSpec(k) ? withCoverage(k, objects) : k));
}

/** The run options' values and the kernels as a frozen MatrixConfig; `extra` adds what only one command has. */
export function runConfig(o: RunOptionValues, kernels: KernelSpec[], env: NodeJS.ProcessEnv, extra: Partial<MatrixConfig> = {}): Readonly<MatrixConfig> {
  const kcidb = kcidbOutput(o);
  const coverage = coverageObjects(o);
  const cfg: MatrixConfig = {
    kernels: coverage === undefined ? kernels : withCoverageKernels(kernels, coverage),
    scenarioGlobs: o.scenario,
    slow: o.slow,
    scenariosDir: join(repoRoot(), 'scenarios'),
    resultsDir: resolve(o.results),
    jobs: o.jobs ?? defaultJobs(o.memory),
    bootTimeoutMs: o.bootTimeout * 1000,
    memoryMb: o.memory,
    cpus: o.cpus,
    keepDisks: o.keepDisks,
    repeat: o.repeat,
    retries: o.retries,
    shareGuest: o.shareGuest,
    mirrors: resolveMirrors(env, parseMirrorOptions(o.mirror)),
    ...extra,
    ...(kcidb !== undefined ? { kcidb } : {}),
    ...(o.modules !== undefined ? { modules: o.modules } : {}),
    ...(coverage !== undefined ? { coverage } : {}),
    ...(env.IH_ACCEL !== undefined ? { accel: env.IH_ACCEL } : {}),
  };
  if (cfg.accel !== undefined && cfg.accel !== 'tcg' && cfg.accel !== 'kvm') throw new UsageError(`IH_ACCEL=${cfg.accel}: expected tcg or kvm`);
  return Object.freeze(cfg);
}

export function parseMatrixArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Readonly<MatrixConfig> {
  const kernelOptions = new KernelOptionRecorder();
  const cmd = new Command('matrix')
    .description('Run every scenario on every kernel in QEMU and judge each cell against the reference model.');
  addRunOptions(kernelOptions.addTo(cmd, DEFAULT_KERNEL))
    .option('--shard <i/n>', 'run only the i-th of n deterministic slices of the cells (merge them with npm run merge)')
    .option('--baseline <run-dir>', 'compare with an earlier run: cells that passed there and not now are regressions, and decide the exit code');
  parseCommand(cmd, argv);
  const o = cmd.opts<RunOptionValues & { shard?: string; baseline?: string }>();
  return runConfig(o, kernelOptions.kernels(DEFAULT_KERNEL), env, {
    ...(o.shard !== undefined ? { shard: parseShard(o.shard) } : {}),
    ...(o.baseline !== undefined ? { baseline: resolve(o.baseline) } : {}),
  });
}
