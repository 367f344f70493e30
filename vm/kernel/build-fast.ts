// The fast path of a patched build seeded from a base build dir (see build-fast-plan.ts for when it applies):
// one make that compiles only the objects the patch changed and relinks, instead of `make vmlinux`'s descent
// into every directory. The top Makefile is read once; `-o .` tells make not to remake kbuild's phony
// whole-tree target `.` (and with it `prepare`, which a copy of a finished build with the same configuration
// and no changed Makefile, Kconfig or generator input has nothing to do for), and an extra makefile makes
// vmlinux.a depend on a stamp whose recipe compiles the objects through kbuild's own Makefile.build, as
// `make <dir>/<obj>.o` does. vmlinux.a is a thin archive (member paths), so rebuilding it and relinking
// vmlinux.o picks the new objects up; the rest (kallsyms links, and bzImage when that is the target) is
// kbuild's usual recipe.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parseDependencyText, patchedFilesOf, planFastRebuild, type FastPlan } from './build-fast-plan.ts';

const DEPENDENCY_FILE_RE = /^\..*\.(cmd|d)$/;
export const FAST_MAKEFILE = '.ih-fast-rebuild.mk';
const FAST_STAMP = '.ih-fast-rebuild';
// File times come from a coarser clock than Date.now(); the base's files are minutes older than this.
const MTIME_SLACK_MS = 500;

async function* dependencyFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* dependencyFiles(full);
    else if (entry.isFile() && DEPENDENCY_FILE_RE.test(entry.name)) yield full;
  }
}

/**
 * For each patched file (source-relative), the targets (build-dir-relative) whose recorded sources or
 * dependencies include it. Paths in kbuild's files are relative to the build dir (`../drivers/md/x.c` with
 * srctree=..), tools/'s are absolute.
 */
export async function dependentTargets(srcDir: string, outDir: string, files: readonly string[]): Promise<Map<string, string[]>> {
  const byAbsolute = new Map(files.map((f) => [path.resolve(srcDir, f), f] as const));
  const basenames = [...new Set(files.map((f) => Buffer.from(path.basename(f))))];
  const found = new Map<string, Set<string>>(files.map((f) => [f, new Set<string>()]));
  for await (const file of dependencyFiles(outDir)) {
    const bytes = await fs.readFile(file);
    // Most of the ~1300 files (40 MB) name none of the patched files: skip decoding and parsing them.
    if (!basenames.some((b) => bytes.includes(b))) continue;
    for (const { target, deps } of parseDependencyText(bytes.toString('utf8'))) {
      for (const dep of deps) {
        const patched = byAbsolute.get(path.resolve(outDir, dep));
        if (patched !== undefined) found.get(patched)!.add(path.relative(outDir, path.resolve(outDir, target)));
      }
    }
  }
  return new Map([...found].map(([f, targets]) => [f, [...targets].sort()]));
}

/** Member paths of the thin archive vmlinux.a (empty when it is missing or not readable). */
export async function vmlinuxMembers(outDir: string): Promise<Set<string>> {
  const r = await execa('ar', ['t', 'vmlinux.a'], { cwd: outDir, reject: false });
  if (r.exitCode !== 0) return new Set();
  return new Set(r.stdout.split('\n').filter((l) => l !== ''));
}

async function isRegularFile(file: string): Promise<boolean> {
  const st = await fs.lstat(file).catch(() => null);
  return st?.isFile() ?? false;
}

/** Whether and how the patched build in outDir (seeded from baseSrcDir's build) can take the fast path. */
export async function findFastRebuild(opts: {
  baseSrcDir: string;
  srcDir: string;
  outDir: string;
  patchTexts: readonly string[];
}): Promise<FastPlan> {
  const patched = patchedFilesOf(opts.patchTexts);
  if ('reason' in patched) return planFastRebuild({ patched, dependents: new Map(), missing: [], vmlinuxMembers: new Set() });
  const missing: string[] = [];
  for (const file of patched.files) {
    if (!(await isRegularFile(path.join(opts.baseSrcDir, file))) || !(await isRegularFile(path.join(opts.srcDir, file)))) missing.push(file);
  }
  const members = await vmlinuxMembers(opts.outDir);
  if (members.size === 0) return { kind: 'full', reason: 'the build dir has no readable vmlinux.a' };
  const dependents = await dependentTargets(opts.srcDir, opts.outDir, patched.files);
  return planFastRebuild({ patched, dependents, missing, vmlinuxMembers: members });
}

/** The extra makefile: vmlinux.a depends on a stamp whose recipe builds the objects (see the top comment). */
export function fastRebuildMakefile(objects: readonly string[]): string {
  return [
    '# Written by integrity-harness (vm/kernel/build-fast.ts) for one fast-path make; read after the top Makefile.',
    // Recursive and exported in the top Makefile, so make ran their $(shell ...) again for every recipe it
    // started; nothing rewrites kernel.release in this make (-o . keeps prepare out).
    'KERNELRELEASE := $(KERNELRELEASE)',
    'PAHOLE_FLAGS := $(PAHOLE_FLAGS)',
    `${FAST_STAMP}: FORCE`,
    `\t$(Q)$(MAKE) $(build)=. ${objects.map((o) => `./${o}`).join(' ')}`,
    '\t$(Q)touch $@',
    `vmlinux.a: ${FAST_STAMP}`,
    '',
  ].join('\n');
}

/** make's arguments for the fast path, run in outDir (no sub-make: the build dir is the current directory). */
export function fastRebuildArgs(srcDir: string, outDir: string): string[] {
  return ['-C', outDir, '-f', path.join(srcDir, 'Makefile'), '-f', FAST_MAKEFILE, '-o', '.'];
}

/**
 * Objects the fast make should have rebuilt that are older than its start, or a vmlinux (or the boot image
 * made from it, `image`: vmlinux or arch/x86/boot/bzImage) older than an object: either means make kept
 * something stale, and the full make has to run.
 */
export async function staleAfterFastRebuild(outDir: string, objects: readonly string[], image: string, startedMs: number): Promise<string[]> {
  const mtime = async (f: string) => (await fs.stat(path.join(outDir, f)).catch(() => null))?.mtimeMs ?? -1;
  const stale: string[] = [];
  let newest = -1;
  for (const object of objects) {
    const t = await mtime(object);
    if (t < startedMs - MTIME_SLACK_MS) stale.push(object);
    newest = Math.max(newest, t);
  }
  for (const linked of new Set(['vmlinux.o', 'vmlinux', image])) {
    if ((await mtime(linked)) < Math.max(newest, startedMs - MTIME_SLACK_MS)) stale.push(linked);
  }
  return stale;
}
