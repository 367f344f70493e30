/**
 * Kernel build cost through the harness's own builder (vm/kernel/build.ts): a clean build of src:6.1 into a
 * fresh build directory with ccache off, then the rebuild after a one-file patch (the patched tree's build
 * starts from the clean build's objects, as a --patch run does), once with the fast path (build-fast.ts) and
 * once with the full make. All in a scratch cache that shares only the unpacked source (hard links), so
 * neither the real cache nor ccache makes the figures look better; the ccache figures use an empty ccache of
 * their own. Without the clean build (incrementalOnly), the scratch cache starts from a copy of the real
 * cache's finished base build instead.
 */
import { promises as fs } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { baseBuildDir, buildKernel, type BuiltKernel } from '../../vm/kernel/build.ts';
import { relocateToolCommands } from '../../vm/kernel/build-relocate.ts';
import { isBuildOrGitEntry, resolveSource } from '../../vm/kernel/build-source.ts';
import { childCpuMs } from '../../vm/kernel/child-cpu.ts';

export interface BuildBench {
  version: string;
  jobs: number;
  /** 1-minute load average before each build: these are wall times on a shared machine. */
  loadBefore: { clean?: number; incremental: number; incrementalFullMake: number };
  /** Absent when only the rebuilds were timed (seeded from the real cache's base build). */
  clean?: BuildFigure;
  /**
   * The same clean build with ccache on and an empty ccache (the bench's own): what a fresh machine's first
   * build pays (CI), and a new tree revision's objects that ccache has not seen. Only with opts.ccache.
   */
  cleanColdCcache?: CcacheFigure;
  /**
   * Then once more into another fresh build dir from that ccache: what a gate or bisect step that builds a new
   * tree revision pays once ccache has seen the sources (the hits and misses say how warm it was).
   */
  cleanWarmCcache?: CcacheFigure;
  /** The rebuild as a --patch build does it (the fast path when the patch qualifies). */
  incremental: IncrementalFigure;
  /** The same rebuild with the fast path off: the full `make vmlinux` (or `make bzImage`, build-target.ts). */
  incrementalFullMake: IncrementalFigure;
}

export interface CcacheFigure extends BuildFigure {
  ccacheHits: number;
  ccacheMisses: number;
  loadBefore: number;
}

export interface IncrementalFigure extends BuildFigure {
  patchedFile: string;
  /** The builder's "# fast path: ..." or "# full make: ..." log line. */
  path: string;
}

export interface BuildFigure {
  /** The whole buildKernel call (source preparation, configure, make). */
  wallMs: number;
  /** user + sys CPU of everything the call ran: unlike wall time, mostly independent of the machine's load. */
  cpuMs: number;
  /** The make of the boot image (`make vmlinux` or `make bzImage`: makeTarget) alone, from the build log. */
  makeTarget: string;
  makeMs: number;
  makeCpuMs: number;
  release: string;
}

const PATCHED_FILE = 'drivers/md/dm-flakey.c';

const STEP_END_RE = /^# exit \d+ after ([\d.]+) s(?:, cpu ([\d.]+) s)?$/;

/** The wall and CPU time runStep logs after `make ... vmlinux` or `make ... bzImage` (NaN when absent). */
export function makeStep(log: string): { ms: number; cpuMs: number } {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => l.startsWith('$ make ') && / (vmlinux|bzImage)(\s|$)/.test(l));
  const end = start === -1 ? undefined : lines.slice(start).map((l) => STEP_END_RE.exec(l)).find((m) => m !== null);
  if (end === undefined || end === null) return { ms: Number.NaN, cpuMs: Number.NaN };
  const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Math.round(Number(text) * 1000));
  return { ms: ms(end[1]), cpuMs: ms(end[2]) };
}

async function timedBuild(build: () => Promise<BuiltKernel>): Promise<BuildFigure & { log: string }> {
  const cpuBefore = childCpuMs();
  const built = await build();
  const cpuMs = childCpuMs() - cpuBefore;
  if (built.fromCache) throw new Error('bench build: the scratch cache already had this kernel');
  const log = await fs.readFile(built.buildLog, 'utf8');
  const step = makeStep(log);
  return { wallMs: built.durationMs, cpuMs, makeTarget: built.bootImageName, makeMs: step.ms, makeCpuMs: step.cpuMs, release: built.release, log };
}

/** The builder's log line that says which path a patched build took. */
export function buildPath(log: string): string {
  return log.split('\n').find((l) => /^# (fast path|full make): /.test(l))?.slice(2) ?? '(not logged)';
}

/** A patch that adds a marker (named by `tag`, so each patch is a kernel of its own) to one file. */
export async function oneFilePatch(srcDir: string, dir: string, tag = 'marker', file = PATCHED_FILE): Promise<string> {
  const before = await fs.readFile(path.join(srcDir, file), 'utf8');
  const a = path.join(dir, 'before.c');
  const b = path.join(dir, 'after.c');
  await fs.writeFile(a, before);
  await fs.writeFile(b, `${before}\n/* integrity-harness bench: a one-file change */\nstatic int __maybe_unused ih_bench_${tag};\n`);
  const diff = await execa('diff', ['-u', '--label', `a/${file}`, '--label', `b/${file}`, a, b], { reject: false });
  if (diff.exitCode !== 1) throw new Error(`diff exited ${diff.exitCode}: ${diff.stderr}`);
  const out = path.join(dir, `one-file-${tag}.patch`);
  await fs.writeFile(out, `${diff.stdout}\n`);
  return out;
}

/**
 * A scratch cache holding the source of src:<version> (hard links) and, unless withoutBase, a copy of the
 * real cache's finished base build dir with its tools/ paths rewritten (as the builder does when seeding):
 * patched builds there start from that base build. Returns the scratch cache dir.
 */
export async function scratchCache(realCache: string, scratch: string, version: string, say: (l: string) => void, withoutBase = false): Promise<string> {
  const source = { kind: 'debian-src', version } as const;
  const base = await resolveSource(source, { cacheDir: realCache, warn: say, log: say });
  // The same src/debian-<version>-<key>/ layout the builder looks for, hard-linked: no second unpack.
  const cacheDir = path.join(scratch, 'cache');
  const srcCopy = path.join(cacheDir, path.relative(realCache, base.dir));
  await fs.mkdir(srcCopy, { recursive: true });
  const entries = (await fs.readdir(base.dir)).filter((e) => !isBuildOrGitEntry(e));
  await execa('cp', ['-al', ...entries.map((e) => path.join(base.dir, e)), `${srcCopy}/`]);
  if (withoutBase) return cacheDir;
  const realOut = await baseBuildDir({ source, cacheDir: realCache });
  try {
    await fs.access(path.join(realOut, '.ih-built'));
  } catch {
    throw new Error(`no finished base build of src:${version} in ${realOut}: build it once (e.g. npm run matrix -- --kernel src:${version}) or time the clean build too`);
  }
  const out = path.join(srcCopy, path.basename(realOut));
  await execa('cp', ['-a', '--reflink=auto', realOut, out]);
  await relocateToolCommands(out, `${base.dir}/`, `${srcCopy}/`);
  return cacheDir;
}

export async function benchBuild(
  realCache: string,
  scratch: string,
  say: (line: string) => void,
  version = '6.1',
  opts: { incrementalOnly?: boolean; ccache?: boolean } = {},
): Promise<BuildBench> {
  const jobs = availableParallelism();
  const source = { kind: 'debian-src', version } as const;
  const cacheDir = await scratchCache(realCache, scratch, version, say, !opts.incrementalOnly);
  const srcDir = (await resolveSource(source, { cacheDir, warn: say, log: say })).dir;
  return withEnv({ CCACHE_DISABLE: '1' }, async () => {
    const status = (l: string) => say(`  ${l}`);
    let clean: BuildFigure | undefined;
    let loadClean: number | undefined;
    if (!opts.incrementalOnly) {
      loadClean = loadavg()[0]!;
      say(`build: clean src:${version} into a fresh build dir, ccache off, -j${jobs} (load ${loadClean.toFixed(1)})`);
      const { log: _log, ...figure } = await timedBuild(() => buildKernel({ source, cacheDir, jobs, onStatus: status }));
      clean = figure;
    }
    let ccache: Pick<BuildBench, 'cleanColdCcache' | 'cleanWarmCcache'> = {};
    if (opts.ccache) {
      const ccacheDir = path.join(scratch, 'ccache');
      ccache = {
        cleanColdCcache: await ccacheBuild(realCache, path.join(scratch, 'cold'), ccacheDir, version, jobs, say),
        cleanWarmCcache: await ccacheBuild(realCache, path.join(scratch, 'warm'), ccacheDir, version, jobs, say),
      };
    }
    const rebuild = async (fastRebuild: boolean): Promise<IncrementalFigure & { load: number }> => {
      const patch = await oneFilePatch(srcDir, scratch, fastRebuild ? 'fast' : 'full');
      const load = loadavg()[0]!;
      say(`build: rebuild after a one-file patch (${PATCHED_FILE}), fast path ${fastRebuild ? 'allowed' : 'off'} (load ${load.toFixed(1)})`);
      const { log, ...figure } = await timedBuild(() => buildKernel({ source, patches: [patch], cacheDir, jobs, onStatus: status, fastRebuild }));
      say(`  ${buildPath(log)}`);
      return { ...figure, patchedFile: PATCHED_FILE, path: buildPath(log), load };
    };
    const { load: loadIncr, ...incremental } = await rebuild(true);
    const { load: loadFull, ...incrementalFullMake } = await rebuild(false);
    return {
      version,
      jobs,
      loadBefore: { ...(loadClean !== undefined ? { clean: loadClean } : {}), incremental: loadIncr, incrementalFullMake: loadFull },
      ...(clean !== undefined ? { clean } : {}),
      ...ccache,
      incremental,
      incrementalFullMake,
    };
  });
}

/** Runs fn with these variables set (undefined: unset) in process.env, which the builder's children inherit. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** ccache's hit and miss counters (ccache 4: `--print-stats`, tab-separated). */
async function ccacheCounts(env: NodeJS.ProcessEnv): Promise<{ hits: number; misses: number }> {
  const r = await execa('ccache', ['--print-stats'], { env, reject: false });
  const get = (key: string) => Number(new RegExp(`^${key}\\t(\\d+)$`, 'm').exec(r.stdout)?.[1] ?? Number.NaN);
  return { hits: get('direct_cache_hit') + get('preprocessed_cache_hit'), misses: get('cache_miss') };
}

async function ccacheBuild(realCache: string, scratch: string, ccacheDir: string, version: string, jobs: number, say: (l: string) => void): Promise<CcacheFigure> {
  const cacheDir = await scratchCache(realCache, scratch, version, say, true);
  await fs.mkdir(ccacheDir, { recursive: true });
  return withEnv({ CCACHE_DISABLE: undefined, CCACHE_DIR: ccacheDir }, async () => {
    const before = await ccacheCounts(process.env);
    const loadBefore = loadavg()[0]!;
    say(`build: clean src:${version} into a fresh build dir, ccache on (${ccacheDir}, ${before.hits + before.misses === 0 ? 'empty' : 'from the build before'}), -j${jobs} (load ${loadBefore.toFixed(1)})`);
    const { log: _log, ...figure } = await timedBuild(() => buildKernel({ source: { kind: 'debian-src', version }, cacheDir, jobs, onStatus: (l) => say(`  ${l}`) }));
    const after = await ccacheCounts(process.env);
    return { ...figure, ccacheHits: after.hits - before.hits, ccacheMisses: after.misses - before.misses, loadBefore };
  });
}
