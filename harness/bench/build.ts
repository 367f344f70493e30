/**
 * Kernel build cost through the harness's own builder (vm/kernel/build.ts): a clean build of src:6.1 into a
 * fresh build directory with ccache off, then the rebuild after a one-file patch (the patched tree's build
 * starts from the clean build's objects, as a --patch run does). Both in a scratch cache that shares only the
 * unpacked source (hard links), so neither the real cache nor ccache makes the figures look better.
 */
import { promises as fs } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { buildKernel, type BuiltKernel } from '../../vm/kernel/build.ts';
import { isBuildOrGitEntry, resolveSource } from '../../vm/kernel/build-source.ts';
import { childCpuMs } from '../../vm/kernel/child-cpu.ts';

export interface BuildBench {
  version: string;
  jobs: number;
  /** 1-minute load average before each build: these are wall times on a shared machine. */
  loadBefore: { clean: number; incremental: number };
  clean: BuildFigure;
  incremental: BuildFigure & { patchedFile: string };
}

export interface BuildFigure {
  /** The whole buildKernel call (source preparation, configure, make). */
  wallMs: number;
  /** user + sys CPU of everything the call ran: unlike wall time, mostly independent of the machine's load. */
  cpuMs: number;
  /** `make bzImage` alone, from the build log. */
  makeMs: number;
  makeCpuMs: number;
  release: string;
}

const PATCHED_FILE = 'drivers/md/dm-flakey.c';

const STEP_END_RE = /^# exit \d+ after ([\d.]+) s(?:, cpu ([\d.]+) s)?$/;

/** The wall and CPU time runStep logs after `make ... bzImage` (NaN when absent). */
export function makeStep(log: string): { ms: number; cpuMs: number } {
  const lines = log.split('\n');
  const start = lines.findIndex((l) => l.startsWith('$ make ') && / bzImage(\s|$)/.test(l));
  const end = start === -1 ? undefined : lines.slice(start).map((l) => STEP_END_RE.exec(l)).find((m) => m !== null);
  if (end === undefined || end === null) return { ms: Number.NaN, cpuMs: Number.NaN };
  const ms = (text: string | undefined) => (text === undefined ? Number.NaN : Math.round(Number(text) * 1000));
  return { ms: ms(end[1]), cpuMs: ms(end[2]) };
}

async function timedBuild(build: () => Promise<BuiltKernel>): Promise<BuildFigure> {
  const cpuBefore = childCpuMs();
  const built = await build();
  const cpuMs = childCpuMs() - cpuBefore;
  if (built.fromCache) throw new Error('bench build: the scratch cache already had this kernel');
  const step = makeStep(await fs.readFile(built.buildLog, 'utf8'));
  return { wallMs: built.durationMs, cpuMs, makeMs: step.ms, makeCpuMs: step.cpuMs, release: built.release };
}

async function oneFilePatch(srcDir: string, dir: string): Promise<string> {
  const before = await fs.readFile(path.join(srcDir, PATCHED_FILE), 'utf8');
  const a = path.join(dir, 'before.c');
  const b = path.join(dir, 'after.c');
  await fs.writeFile(a, before);
  await fs.writeFile(b, `${before}\n/* integrity-harness bench: a one-file change */\nstatic int __maybe_unused ih_bench_marker;\n`);
  const diff = await execa('diff', ['-u', '--label', `a/${PATCHED_FILE}`, '--label', `b/${PATCHED_FILE}`, a, b], { reject: false });
  if (diff.exitCode !== 1) throw new Error(`diff exited ${diff.exitCode}: ${diff.stderr}`);
  const file = path.join(dir, 'one-file.patch');
  await fs.writeFile(file, `${diff.stdout}\n`);
  return file;
}

export async function benchBuild(realCache: string, scratch: string, say: (line: string) => void, version = '6.1'): Promise<BuildBench> {
  const jobs = availableParallelism();
  const base = await resolveSource({ kind: 'debian-src', version }, { cacheDir: realCache, warn: say, log: say });
  // The same src/debian-<version>-<key>/ layout the builder looks for, hard-linked: no second unpack.
  const cacheDir = path.join(scratch, 'cache');
  const srcCopy = path.join(cacheDir, path.relative(realCache, base.dir));
  await fs.mkdir(srcCopy, { recursive: true });
  const entries = (await fs.readdir(base.dir)).filter((e) => !isBuildOrGitEntry(e));
  await execa('cp', ['-al', ...entries.map((e) => path.join(base.dir, e)), `${srcCopy}/`]);
  const patch = await oneFilePatch(base.dir, scratch);
  const saved = process.env.CCACHE_DISABLE;
  process.env.CCACHE_DISABLE = '1';
  try {
    const status = (l: string) => say(`  ${l}`);
    const loadClean = loadavg()[0]!;
    say(`build: clean src:${version} into a fresh build dir, ccache off, -j${jobs} (load ${loadClean.toFixed(1)})`);
    const clean = await timedBuild(() => buildKernel({ source: { kind: 'debian-src', version }, cacheDir, jobs, onStatus: status }));
    const loadIncr = loadavg()[0]!;
    say(`build: rebuild after a one-file patch (${PATCHED_FILE}) (load ${loadIncr.toFixed(1)})`);
    const incr = await timedBuild(() => buildKernel({ source: { kind: 'debian-src', version }, patches: [patch], cacheDir, jobs, onStatus: status }));
    return { version, jobs, loadBefore: { clean: loadClean, incremental: loadIncr }, clean, incremental: { ...incr, patchedFile: PATCHED_FILE } };
  } finally {
    if (saved === undefined) delete process.env.CCACHE_DISABLE;
    else process.env.CCACHE_DISABLE = saved;
  }
}
