// Builds a kernel the harness can boot: source (Debian package or git tree) + patches + Kconfig
// fragments -> a bootable image (vmlinux booted through PVH, or bzImage: build-target.ts), cached by
// content. See vm/kconfig/README.md for the configuration.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import {
  buildCacheKey,
  configKey,
  createDirAtomically,
  hashParts,
  pathExists,
  readStamp,
  withLock,
  writeStamp,
} from './build-cache.ts';
import { loadFragments, verifyConfig, type Fragment } from './build-config.ts';
import { COMPILER_MISMATCH_HINT, KernelBuildError, KernelSpecError, looksLikeCompilerMismatch } from './build-errors.ts';
import { diagnoseBuildLog, diagnosisHint } from './build-diagnose.ts';
import { FAST_MAKEFILE, fastRebuildArgs, fastRebuildMakefile, findFastRebuild, staleAfterFastRebuild } from './build-fast.ts';
import { skipEmptyCommandsArgs } from './build-kbuild-cmd.ts';
import { probeMemoArgsFor } from './build-probe-memo.ts';
import { localExportCheckArgs, perObjectArgs } from './build-per-object.ts';
import { coverageMakeArgs, GCOV_FRAGMENT, publishNotes } from './build-coverage.ts';
import { makeArgValue } from './build-make-args.ts';
import { parseHunks } from './build-patch.ts';
import { relocateToolCommands } from './build-relocate.ts';
import { bootTarget, publishedImageName, type BootTarget } from './build-target.ts';
import { kernelImageFormatOf } from '../qemu/kernel-image.ts';
import { BuildLog, runStep, type StepResult } from './build-run.ts';
import { containerArgv, containerCompiler, resolveToolchainImage, type ToolchainContainer } from './toolchain-container.ts';
import {
  loadPatches,
  patchedSource,
  resolveSource,
  type KernelSource,
  type PatchFile,
  type ResolvedSource,
} from './build-source.ts';

export { KernelBuildError, KernelPatchError, KernelSpecError } from './build-errors.ts';
export type { KernelSource } from './build-source.ts';

export interface BuildRequest {
  source: KernelSource;
  patches?: string[];
  /** Extra Kconfig fragments merged after vm/kconfig/base.config (later ones win). */
  kconfig?: string[];
  /** Passed through to every make invocation, e.g. CC=gcc-10. */
  makeArgs?: string[];
  cacheDir: string;
  /** Where the build log goes; default <cacheDir>/logs/<cacheKey>.log. */
  logFile?: string;
  jobs?: number;
  /** Every line of the build log (make output included). */
  onLog?: (line: string) => void;
  /** What a person watching wants: unpacking, patching, configuring, building, warnings, done. */
  onStatus?: (line: string) => void;
  /**
   * A patched build seeded from the base build compiles only the objects the patch changed and relinks,
   * when build-fast-plan.ts allows it (default true; false forces the full make, e.g. to compare the two).
   */
  fastRebuild?: boolean;
  /**
   * Objects (paths relative to the tree, e.g. drivers/md/dm-integrity.o) compiled with gcov counters in a
   * CONFIG_GCOV_KERNEL kernel (build-coverage.ts). Part of the configuration key: a separate build.
   */
  coverage?: readonly string[];
  /**
   * A container image whose toolchain runs make (toolchain-container.ts), e.g. an older Debian with the GCC of
   * an old tree's time. Its image id is part of the configuration key; ccache is not used inside.
   */
  toolchainImage?: string;
}

/** A --coverage kernel: what the host needs to read a guest's counters back (harness/coverage/). */
export interface KernelCoverage {
  /** Profiled objects that this configuration builds (their notes are in notesDir). */
  objects: string[];
  /** The build dir: the compiler's working directory, which the counters' and notes' paths start from. */
  buildDir: string;
  /** <kernel dir>/gcov: the notes files (.gcno) of this build, laid out as in the build dir. */
  notesDir: string;
}

export interface BuiltKernel {
  /** What QEMU's -kernel gets: <kernel dir>/vmlinux (PVH) or <kernel dir>/bzImage (see build-target.ts). */
  bootImage: string;
  bootImageName: BootTarget['published'];
  /** From include/config/kernel.release. */
  release: string;
  configPath: string;
  buildLog: string;
  cacheKey: string;
  fromCache: boolean;
  sourceDescription: string;
  /** Short git revision of the source ("g1a2b3c4d5e6[-dirty]"), when it is a git tree. */
  revision?: string;
  /** =y options of the fragments that olddefconfig dropped (missing symbols or unmet dependencies). */
  missingOptions: string[];
  /** Wall time of this call. */
  durationMs: number;
  coverage?: KernelCoverage;
}

const ARCH = 'x86_64';
const KCONFIG_FILE_RE = /(^|\/)Kconfig[^/]*$/;

interface KernelMeta {
  /** The published image's file name in the kernel dir (build-target.ts). */
  bootImageName: BootTarget['published'];
  release: string;
  missingOptions: string[];
  sourceDescription: string;
  coverage?: Omit<KernelCoverage, 'notesDir'>;
}

export async function buildKernel(req: BuildRequest): Promise<BuiltKernel> {
  const started = Date.now();
  validateRequest(req);
  await fs.mkdir(req.cacheDir, { recursive: true });
  const cacheDir = await fs.realpath(req.cacheDir);
  const status = (line: string) => {
    req.onStatus?.(line);
    req.onLog?.(line);
  };
  const warn = (message: string) => status(`warning: ${message}`);
  const ctx = { cacheDir, warn, log: status };

  const fragments = await loadFragments(fragmentFiles(req));
  const patches = await loadPatches(req.patches ?? []);
  const { toolchain, makeArgs, cfgKey } = await buildConfiguration(req, fragments);

  const base = await resolveSource(req.source, ctx);
  const src = patches.length > 0 ? await patchedSource(base, patches, ctx) : base;
  const preparedMs = Date.now() - started;
  const cacheKey = src.key === null ? `uncached-${hashParts([src.dir, cfgKey])}` : buildCacheKey(src.key, cfgKey);
  const kernelDir = path.join(cacheDir, 'kernels', cacheKey);
  const logFile = req.logFile ?? path.join(cacheDir, 'logs', `${cacheKey}.log`);
  const revision = src.revision !== undefined ? { revision: src.revision } : {};

  if (src.key !== null) {
    const cached = await readCachedKernel(kernelDir);
    if (cached) {
      return { ...fromKernelDir(kernelDir, cached), ...revision, buildLog: logFile, cacheKey, fromCache: true, durationMs: Date.now() - started };
    }
  }

  const outDir = buildDirFor(src, cfgKey, cacheDir);
  const baseFirst = patches.length > 0 && src.key !== null ? await buildBaseFirst(req, base, outDir, cfgKey, status) : undefined;
  await fs.mkdir(path.dirname(logFile), { recursive: true });
  await fs.writeFile(logFile, '');
  const log = new BuildLog(logFile, req.onLog);
  try {
    log.line(`# integrity-harness kernel build ${cacheKey}: ${src.description}`);
    log.line(`# source ready after ${(preparedMs / 1000).toFixed(1)} s`);
    if (baseFirst !== undefined) log.line(`# ${baseFirst}`);
    if (toolchain !== undefined) log.line(`# toolchain: ${toolchain.runtime} image ${toolchain.image} (${toolchain.imageId}): ${await containerCompiler(toolchain)}`);
    const steps = stepsIn(log, toolchain, [src.dir, base.dir, outDir], fragments.map((f) => path.dirname(path.resolve(f.name))));
    req.onStatus?.(`building ${src.description} (log: ${logFile})`);
    const meta = await withLock(`${outDir}.lock`, async () => {
      // Another build of the same kernel (a gate's other side, a parallel run) may have held the lock.
      const finished = src.key !== null ? await readCachedKernel(kernelDir) : undefined;
      if (finished !== undefined) {
        log.line('# built by another build of the same kernel while this one waited for the build dir');
        return finished;
      }
      const seeded = patches.length > 0 && src.key !== null && (await seedFromBase(base, src.dir, patches, outDir, cfgKey, log));
      const configStamp = hashParts([cfgKey, ...kconfigTouchingPatches(patches)]);
      await configure(src.dir, outDir, fragments, makeArgs, configStamp, steps, cacheDir);
      const configText = await fs.readFile(path.join(outDir, '.config'), 'utf8');
      const { missingOptions, missingCritical } = verifyConfig(fragments, configText);
      if (missingOptions.length > 0) {
        const message = `options not in the final .config: ${missingOptions.join(' ')}`;
        warn(message);
        log.line(`warning: ${message}`);
      }
      const critical = [...missingCritical, ...(req.coverage !== undefined && !/^CONFIG_GCOV_KERNEL=y$/m.test(configText) ? ['GCOV_KERNEL'] : [])];
      if (critical.length > 0) {
        throw new KernelBuildError(
          `${src.description}: the configured kernel lacks ${critical.map((o) => `CONFIG_${o}`).join(', ')}, ` +
            'without which the harness cannot run (does this tree have them? see the build log)',
          { logTail: log.lastLines(), logFile },
        );
      }
      const jobs = req.jobs ?? os.availableParallelism();
      const target = bootTarget(configText);
      log.line(`# boot image: ${target.make} (${target.why})`);
      const buildArgs = [...makeArgs, ...(await kbuildTrimArgs(src.dir, outDir, makeArgs, configText, toolchain !== undefined))];
      const fast = patches.length > 0 && (await tryFastRebuild({ base, src, outDir, patches, seeded, enabled: req.fastRebuild ?? true, makeArgs: buildArgs, jobs, log, steps, cacheDir, target }));
      if (!fast) await make(src.dir, outDir, buildArgs, [target.make], jobs, steps, cacheDir);
      await checkBootable(path.join(outDir, target.built), src.description, log);
      const release = (await fs.readFile(path.join(outDir, 'include/config/kernel.release'), 'utf8')).trim();
      const meta: KernelMeta = { bootImageName: target.published, release, missingOptions, sourceDescription: src.description };
      await publishKernel(outDir, kernelDir, target, meta, src.key === null, req.coverage);
      await writeStamp(path.join(outDir, '.ih-built'), cacheKey);
      return meta;
    });
    const done = `built ${meta.release} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    log.line(`# ${done}`);
    req.onStatus?.(done);
    return { ...fromKernelDir(kernelDir, meta), ...revision, buildLog: logFile, cacheKey, fromCache: false, durationMs: Date.now() - started };
  } finally {
    await log.close();
  }
}

/** The build dir a base (unpatched) build of this source and configuration uses, for tools that reuse it. */
export async function baseBuildDir(req: Pick<BuildRequest, 'source' | 'kconfig' | 'makeArgs' | 'cacheDir' | 'coverage' | 'toolchainImage'>): Promise<string> {
  const { cfgKey } = await buildConfiguration(req, await loadFragments(fragmentFiles(req)));
  const ctx = { cacheDir: await fs.realpath(req.cacheDir), warn: () => undefined, log: () => undefined };
  return buildDirFor(await resolveSource(req.source, ctx), cfgKey, ctx.cacheDir);
}

// The toolchain (the host's, with ccache where it is installed, or the --toolchain-image container's), the
// make arguments it takes and the configuration key they and the fragments make.
async function buildConfiguration(
  req: Pick<BuildRequest, 'makeArgs' | 'coverage' | 'toolchainImage'>,
  fragments: readonly Fragment[],
): Promise<{ toolchain: ToolchainContainer | undefined; makeArgs: string[]; cfgKey: string }> {
  const toolchain = req.toolchainImage !== undefined ? await resolveToolchainImage(req.toolchainImage) : undefined;
  const makeArgs = toolchain !== undefined ? userMakeArgs(req) : await withCcache(userMakeArgs(req));
  const cfgKey = configKey({ fragments, makeArgs, ...(toolchain !== undefined ? { toolchain: toolchain.imageId } : {}) });
  return { toolchain, makeArgs, cfgKey };
}

// The user's fragments, then gcov's for a --coverage build (last: it wins over a fragment that turns it off).
function fragmentFiles(req: Pick<BuildRequest, 'kconfig' | 'coverage'>): string[] {
  return [...(req.kconfig ?? []), ...(req.coverage !== undefined ? [GCOV_FRAGMENT] : [])];
}

function userMakeArgs(req: Pick<BuildRequest, 'makeArgs' | 'coverage'>): string[] {
  return [...(req.makeArgs ?? []), ...(req.coverage !== undefined ? coverageMakeArgs(req.coverage) : [])];
}

function validateRequest(req: BuildRequest): void {
  const { source } = req;
  if (source.kind === 'debian-src' && !/^\d+\.\d+$/.test(source.version)) {
    throw new KernelSpecError(`debian-src version must look like 6.1, got '${String(source.version)}'`);
  }
  if (source.kind === 'tree' && (typeof source.path !== 'string' || source.path === '')) {
    throw new KernelSpecError('tree source needs a path');
  }
  if (req.jobs !== undefined && (!Number.isInteger(req.jobs) || req.jobs < 1)) {
    throw new KernelSpecError(`jobs must be a positive integer, got ${req.jobs}`);
  }
  for (const arg of req.makeArgs ?? []) {
    if (/^(O|ARCH)=/.test(arg)) {
      throw new KernelSpecError(`make argument '${arg}' is set by the builder (it owns O= and ARCH=${ARCH})`);
    }
  }
}

// Wraps CC and HOSTCC in ccache when it is installed: a rebuild of another revision or patch set mostly hits,
// and so do the host tools every new build dir compiles (kconfig's conf, fixdep, objtool, modpost).
// Part of the configuration key: a build dir whose objtool was linked by another HOSTCC would relink it, and
// every object depends on objtool.
export async function withCcache(makeArgs: readonly string[]): Promise<string[]> {
  const ccache = await execa('ccache', ['--version'], { reject: false });
  if (ccache.exitCode !== 0) return [...makeArgs];
  const llvm = makeArgValue(makeArgs, 'LLVM');
  const crossCompile = makeArgValue(makeArgs, 'CROSS_COMPILE') ?? '';
  const added: string[] = [];
  let args = [...makeArgs];
  for (const [name, gcc] of [['CC', `${crossCompile}gcc`], ['HOSTCC', 'gcc']] as const) {
    const index = args.map((arg) => arg.startsWith(`${name}=`)).lastIndexOf(true);
    // LLVM=... picks clang for both (with its own prefix or suffix): left to kbuild
    if (index === -1 && llvm === undefined) added.push(`${name}=ccache ${gcc}`);
    if (index === -1) continue;
    const tool = args[index]!.slice(name.length + 1);
    if (!tool.includes('ccache')) args = args.map((arg, i) => (i === index ? `${name}=ccache ${tool}` : arg));
  }
  return [...added, ...args];
}

// A build dir that is a direct subdirectory of the source makes kbuild use srctree=.. (relative),
// so a copy of source + build dir elsewhere is still up to date (see seedFromBase). A user's tree
// gets its build dir in the cache instead: we never write into their checkout.
function buildDirFor(src: ResolvedSource, cfgKey: string, cacheDir: string): string {
  if (src.cacheOwned) return path.join(src.dir, `ih-out-${cfgKey}`);
  return path.join(cacheDir, 'build', `tree-${hashParts([src.dir]).slice(0, 8)}-${cfgKey}`);
}

// A patched build of a cache-owned source starts from the finished unpatched build (seedFromBase). When
// there is none yet, the base is built first: the patched build then recompiles only what its patches
// change, and so does every later patch set on the same base (a gate's or a bisection's other side, the
// next revision of the series). The cost is a relink or two over building the patched tree alone.
// A base that does not build is left behind: the patched tree (which may fix it) gets the full make.
async function buildBaseFirst(
  req: BuildRequest,
  base: ResolvedSource,
  outDir: string,
  cfgKey: string,
  status: (line: string) => void,
): Promise<string | undefined> {
  if (!base.cacheOwned || (await pathExists(outDir))) return undefined;
  const baseOut = path.join(base.dir, `ih-out-${cfgKey}`);
  if ((await readStamp(path.join(baseOut, '.ih-built'))) !== undefined) return undefined;
  status(`building the unpatched ${base.description} first, so the patched build recompiles only what the patches change`);
  try {
    const built = await buildKernel({ ...req, patches: [], logFile: undefined });
    return `built the unpatched base first (${built.cacheKey}, log: ${built.buildLog})`;
  } catch (err) {
    if (!(err instanceof KernelBuildError)) throw err;
    const message = `the unpatched ${base.description} did not build (${err.message.split('\n')[0]}); building the patched tree in full`;
    status(`warning: ${message}`);
    return message;
  }
}

// Starts a patched build from a copy of the base's finished build dir: source files the patches did
// not touch keep their (hard-linked) mtimes, so make recompiles only what the patches changed.
async function seedFromBase(
  base: ResolvedSource,
  patchedDir: string,
  patches: readonly PatchFile[],
  outDir: string,
  cfgKey: string,
  log: BuildLog,
): Promise<boolean> {
  if (!base.cacheOwned || (await pathExists(outDir))) return false;
  const baseOut = path.join(base.dir, `ih-out-${cfgKey}`);
  if ((await readStamp(path.join(baseOut, '.ih-built'))) === undefined) return false;
  log.line(`# reusing objects of ${baseOut}`);
  await createDirAtomically(outDir, async (tmp) => {
    const started = Date.now();
    await execa('cp', ['-a', '--reflink=auto', baseOut, tmp]);
    const copied = Date.now();
    await fs.rm(path.join(tmp, '.ih-built'), { force: true });
    const rewritten = await relocateToolCommands(tmp, `${base.dir}/`, `${path.dirname(outDir)}/`);
    log.line(`# copied in ${secs(copied - started)} s; rewrote the source path in ${rewritten} tools/ command file(s) in ${secs(Date.now() - copied)} s`);
    const touched = await touchPatchedFiles(patchedDir, patches);
    log.line(`# marked ${touched} patched file(s) newer than the copied objects`);
  });
  return true;
}

// The fast path (build-fast.ts) when this build dir was just seeded from the base build and the patch
// qualifies; false when the full make has to run. The log says which and why.
async function tryFastRebuild(o: {
  base: ResolvedSource;
  src: ResolvedSource;
  outDir: string;
  patches: readonly PatchFile[];
  seeded: boolean;
  enabled: boolean;
  makeArgs: readonly string[];
  jobs: number;
  log: BuildLog;
  steps: StepRunner;
  cacheDir: string;
  target: BootTarget;
}): Promise<boolean> {
  const { log, outDir } = o;
  if (!o.enabled) {
    log.line('# full make: the fast path is off for this build');
    return false;
  }
  if (!o.seeded) {
    log.line('# full make: this build dir was not just seeded from a finished base build');
    return false;
  }
  const planned = Date.now();
  const plan = await findFastRebuild({ baseSrcDir: o.base.dir, srcDir: o.src.dir, outDir, patchTexts: o.patches.map((p) => p.text) });
  const took = `(planned in ${secs(Date.now() - planned)} s)`;
  if (plan.kind === 'full') {
    log.line(`# full make: ${plan.reason} ${took}`);
    return false;
  }
  log.line(`# fast path: ${plan.reason} ${took}`);
  await fs.writeFile(path.join(outDir, FAST_MAKEFILE), fastRebuildMakefile(plan.objects));
  const started = Date.now();
  try {
    await make(o.src.dir, outDir, o.makeArgs, [o.target.make], o.jobs, o.steps, o.cacheDir, fastRebuildArgs(o.src.dir, outDir));
  } catch (err) {
    // A patch that does not compile fails the full make as well, with kbuild's usual output; anything the
    // fast path itself got wrong is repaired by it. Everything the fast make did is in kbuild's own records.
    if (!(err instanceof KernelBuildError)) throw err;
    log.line('# full make: the fast-path make failed (see above)');
    return false;
  }
  const stale = await staleAfterFastRebuild(outDir, plan.objects, o.target.built, started);
  if (stale.length === 0) return true;
  log.line(`# full make: the fast path left ${stale.join(', ')} older than its inputs`);
  return false;
}

// The patched tree is cached on its own and may be older than the base build it is seeded from (patched
// earlier, base built later for a new configuration): make compares mtimes and would then keep the base's
// objects of the patched files, i.e. build the unpatched kernel. Files the patches changed were replaced
// (one link); a file still hard-linked to the base tree was not changed and keeps its time.
export async function touchPatchedFiles(patchedDir: string, patches: readonly PatchFile[]): Promise<number> {
  const now = new Date();
  let touched = 0;
  for (const file of new Set(patches.flatMap((p) => parseHunks(p.text).map((h) => h.file)))) {
    const st = await fs.stat(path.join(patchedDir, file)).catch(() => null);
    if (!st?.isFile() || st.nlink > 1) continue;
    await fs.utimes(path.join(patchedDir, file), now, now);
    touched += 1;
  }
  return touched;
}

function secs(ms: number): string {
  return (ms / 1000).toFixed(1);
}

function kconfigTouchingPatches(patches: readonly PatchFile[]): string[] {
  return patches.filter((p) => parseHunks(p.text).some((h) => KCONFIG_FILE_RE.test(h.file))).map((p) => p.text);
}

// ccache's depend mode takes a miss's include list from the compiler's -MMD output instead of running the
// preprocessor a second time: a miss costs what the compile costs (a kernel object ~25 % more otherwise),
// and hits are direct-mode hits as before. The user's CCACHE_DEPEND / CCACHE_NODEPEND win.
function makeEnv(cacheDir: string): Record<string, string> {
  const userSetDepend = process.env.CCACHE_DEPEND !== undefined || process.env.CCACHE_NODEPEND !== undefined;
  return {
    KBUILD_BUILD_USER: 'integrity-harness',
    KBUILD_BUILD_HOST: 'integrity-harness',
    CCACHE_DIR: process.env.CCACHE_DIR ?? path.join(cacheDir, 'ccache'),
    ...(userSetDepend ? {} : { CCACHE_DEPEND: '1' }),
  };
}

// tinyconfig, then our fragments merged on top, then olddefconfig resolves dependencies. Skipped
// when the build dir was configured from the same inputs: rewriting .config costs a syncconfig.
async function configure(
  srcDir: string,
  outDir: string,
  fragments: readonly Fragment[],
  makeArgs: readonly string[],
  configStamp: string,
  steps: StepRunner,
  cacheDir: string,
): Promise<void> {
  const { log } = steps;
  const stampFile = path.join(outDir, '.ih-config');
  if ((await readStamp(stampFile)) === configStamp && (await pathExists(path.join(outDir, '.config')))) {
    log.line('# configuration unchanged, reusing .config');
    return;
  }
  await fs.mkdir(outDir, { recursive: true });
  const common = ['make', '-C', srcDir, `O=${outDir}`, `ARCH=${ARCH}`, ...makeArgs];
  const env = makeEnv(cacheDir);
  const argvs: string[][] = [
    [...common, 'tinyconfig'],
    ['sh', path.join(srcDir, 'scripts/kconfig/merge_config.sh'), '-m', '-O', outDir, path.join(outDir, '.config'), ...fragments.map((f) => f.name)],
    [...common, 'olddefconfig'],
  ];
  for (const argv of argvs) {
    const { exitCode } = await steps.run(argv, { cwd: srcDir, env });
    if (exitCode !== 0) throw buildFailure(`configuring (${argv.slice(0, 2).join(' ')}... exited ${exitCode})`, log);
  }
  await writeStamp(stampFile, configStamp);
}

// What the builder adds to the user's make arguments for the boot-image make (the fast one and the full one
// alike), worked out once per build: the empty-command guard, the compiler-probe memo and the per-object trims.
// In a toolchain container the host's gcc is not the one that builds, so nothing is asked of it (the LTO
// plugin path for nm); the probe memo is keyed by the build dir, which the image id already separates.
async function kbuildTrimArgs(srcDir: string, outDir: string, makeArgs: readonly string[], configText: string, inContainer: boolean): Promise<string[]> {
  const [guard, probes, perObject] = await Promise.all([
    skipEmptyCommandsArgs(srcDir, makeArgs),
    probeMemoArgsFor(srcDir, outDir, makeArgs),
    inContainer ? localExportCheckArgs(configText, makeArgs) : perObjectArgs(configText, makeArgs),
  ]);
  return [...guard, ...probes, ...perObject];
}

async function make(
  srcDir: string,
  outDir: string,
  makeArgs: readonly string[],
  targets: readonly string[],
  jobs: number,
  steps: StepRunner,
  cacheDir: string,
  /** Replaces `-C srcDir` (the fast path runs make in the build dir itself). */
  where: readonly string[] = ['-C', srcDir],
): Promise<void> {
  const argv = ['make', ...where, `O=${outDir}`, `ARCH=${ARCH}`, `-j${jobs}`, ...makeArgs, ...targets];
  const { exitCode } = await steps.run(argv, { cwd: srcDir, env: makeEnv(cacheDir) });
  if (exitCode !== 0) throw buildFailure(`make ${targets.join(' ')} exited ${exitCode}`, steps.log);
}

/** How a build runs its toolchain steps: on the host, or in the --toolchain-image container. */
interface StepRunner {
  log: BuildLog;
  run(argv: string[], opts: { cwd: string; env: Record<string, string> }): Promise<StepResult>;
}

// The container sees the source trees and the build dir read-write (a patched tree's build reads its base's
// files through hard links and relative paths) and the Kconfig fragments' folders read-only.
function stepsIn(log: BuildLog, toolchain: ToolchainContainer | undefined, dirs: readonly string[], readOnly: readonly string[]): StepRunner {
  if (toolchain === undefined) return { log, run: (argv, opts) => runStep(log, argv, opts) };
  return {
    log,
    run: (argv, opts) => runStep(log, containerArgv(toolchain, argv, { cwd: opts.cwd, env: opts.env, mounts: dirs, readOnly }), { cwd: opts.cwd }),
  };
}

function buildFailure(what: string, log: BuildLog): KernelBuildError {
  const tail = log.lastLines();
  const known = diagnosisHint(diagnoseBuildLog(tail));
  const hint = known !== undefined ? `\n${known}` : looksLikeCompilerMismatch(tail) ? `\n${COMPILER_MISMATCH_HINT}` : '';
  return new KernelBuildError(
    `kernel build failed: ${what}; log: ${log.file}\n--- last ${tail.length} lines ---\n${tail.join('\n')}${hint}`,
    { logTail: tail, logFile: log.file },
  );
}

// What a BuiltKernel has from the kernel dir and its meta.json, the coverage's notes dir filled in.
function fromKernelDir(kernelDir: string, meta: KernelMeta): Omit<BuiltKernel, 'buildLog' | 'cacheKey' | 'fromCache' | 'durationMs'> {
  const { coverage, ...rest } = meta;
  const files = { ...rest, bootImage: path.join(kernelDir, meta.bootImageName), configPath: path.join(kernelDir, 'config') };
  return coverage === undefined ? files : { ...files, coverage: { ...coverage, notesDir: path.join(kernelDir, 'gcov') } };
}

// A vmlinux without the PVH note (a tree whose CONFIG_PVH does not add it) would only show as a guest that
// never boots: QEMU refuses it at start.
async function checkBootable(image: string, description: string, log: BuildLog): Promise<void> {
  const format = await kernelImageFormatOf(image).catch((err: Error) => ({ reason: err.message }));
  if (typeof format === 'string') return;
  const message = `${description}: QEMU cannot boot ${image}: ${format.reason}`;
  log.line(`# ${message}`);
  throw new KernelBuildError(message, { logTail: log.lastLines(), logFile: log.file });
}

// Copies the result out of the build dir, so a later rebuild there never changes a kernel a guest
// is booting.
async function publishKernel(outDir: string, kernelDir: string, target: BootTarget, meta: KernelMeta, replace: boolean, coverage: readonly string[] | undefined): Promise<void> {
  if (replace) await fs.rm(kernelDir, { recursive: true, force: true });
  await createDirAtomically(kernelDir, async (tmp) => {
    await fs.mkdir(tmp, { recursive: true });
    if (coverage !== undefined) meta.coverage = { objects: await publishNotes(outDir, path.join(tmp, 'gcov'), coverage), buildDir: outDir };
    await fs.copyFile(path.join(outDir, target.built), path.join(tmp, target.published));
    await fs.copyFile(path.join(outDir, '.config'), path.join(tmp, 'config'));
    await fs.copyFile(path.join(outDir, 'System.map'), path.join(tmp, 'System.map')).catch(() => undefined);
    await fs.writeFile(path.join(tmp, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  });
}

async function readCachedKernel(kernelDir: string): Promise<KernelMeta | undefined> {
  try {
    const meta = JSON.parse(await fs.readFile(path.join(kernelDir, 'meta.json'), 'utf8')) as KernelMeta;
    const image = publishedImageName(meta);
    if (image === undefined || !(await pathExists(path.join(kernelDir, image)))) return undefined;
    return { ...meta, bootImageName: image };
  } catch {
    return undefined;
  }
}
