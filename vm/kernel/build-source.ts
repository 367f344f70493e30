// Resolves a kernel source spec to a directory to build from, and makes patched copies of it.
// Rule: nothing outside the cache is ever modified (not /usr/src, not the user's checkout).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { createDirAtomically, hashParts, pathExists, patchedSourceKey } from './build-cache.ts';
import { KernelPatchError, KernelSpecError, KernelUnavailableError } from './build-errors.ts';
import { patchFailureDetail } from './build-patch.ts';
import { tarballName, verifyTarball, type TarballEntry } from './tarball.ts';

export type KernelSource =
  // Debian's linux-source-<version> package (bookworm has 6.1, backports 6.12).
  | { kind: 'debian-src'; version: string }
  | { kind: 'tree'; path: string; ref?: string }
  // A kernel.org release tarball of the catalog (vm/kernels.yaml) that the user placed in <cache>/tarballs.
  | ({ kind: 'tarball' } & TarballEntry);

export interface ResolvedSource {
  dir: string;
  // null: the tree cannot be identified (not git), so nothing built from it is cached.
  key: string | null;
  description: string;
  // Short revision for labels ("g1a2b3c4d5e6", "-dirty" when the tree has uncommitted changes); none for tarballs.
  revision?: string;
  // The cache owns dir: build dirs can live inside it (relative srctree) and it can be hard-linked.
  cacheOwned: boolean;
}

export interface SourceContext {
  cacheDir: string;
  warn: (message: string) => void;
  log: (line: string) => void;
}

export async function resolveSource(source: KernelSource, ctx: SourceContext): Promise<ResolvedSource> {
  if (source.kind === 'debian-src') return resolveDebianSource(source.version, ctx);
  if (source.kind === 'tarball') return resolveTarballSource(source, ctx);
  if (source.ref !== undefined) return resolveTreeAtRef(source.path, source.ref, ctx);
  return resolveTreeAsIs(source.path, ctx);
}

async function resolveDebianSource(version: string, ctx: SourceContext): Promise<ResolvedSource> {
  const pkg = `linux-source-${version}`;
  const tarball = `/usr/src/${pkg}.tar.xz`;
  if (!(await pathExists(tarball))) await installDebianSource(pkg, ctx);
  const st = await fs.stat(tarball);
  const key = hashParts(['debian-src-v1', path.basename(tarball), String(st.size), String(st.mtimeMs)]);
  const root = path.join(ctx.cacheDir, 'src', `debian-${version}-${key}`);
  await createDirAtomically(root, async (tmp) => {
    ctx.log(`unpacking ${tarball} into the cache (once)`);
    await fs.mkdir(tmp, { recursive: true });
    await execa('tar', ['-xf', tarball, '-C', tmp]);
  });
  return {
    dir: path.join(root, pkg),
    key,
    description: `Debian ${pkg} (${tarball}, ${st.size} bytes)`,
    cacheOwned: true,
  };
}

async function resolveTarballSource(entry: TarballEntry, ctx: SourceContext): Promise<ResolvedSource> {
  const verified = await verifyTarball(entry, ctx.cacheDir);
  if (verified.signature.status !== 'good') {
    ctx.warn(`${verified.tarball}: sha256 matches its checksum list, but the list's signature was not checked: ${verified.signature.detail}`);
  }
  const name = tarballName(entry.url);
  const key = hashParts(['tarball-v1', verified.sha256]);
  const root = path.join(ctx.cacheDir, 'src', `tarball-${name.replace(/\.tar\.[a-z0-9]+$/, '')}-${key.slice(0, 12)}`);
  await createDirAtomically(root, async (tmp) => {
    ctx.log(`unpacking ${verified.tarball} into the cache (once)`);
    await fs.mkdir(tmp, { recursive: true });
    await execa('tar', ['-xf', verified.tarball, '-C', tmp]);
  });
  const top = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory());
  if (top.length !== 1) throw new KernelUnavailableError(`${verified.tarball}: expected one top-level directory, found ${top.length}`);
  const signed = verified.signature.status === 'good' ? verified.signature.detail : `signature not checked: ${verified.signature.detail}`;
  return {
    dir: path.join(root, top[0]!.name),
    key,
    description: `kernel.org ${name} (sha256 ${verified.sha256.slice(0, 16)}… matches ${entry.checksums}; ${signed})`,
    cacheOwned: true,
  };
}

async function installDebianSource(pkg: string, ctx: SourceContext): Promise<void> {
  const line = `apt-get install -y ${pkg}`;
  if (process.getuid?.() !== 0) {
    throw new KernelSpecError(`/usr/src/${pkg}.tar.xz is missing; install it with: sudo ${line}`);
  }
  ctx.log(`installing ${pkg}: ${line}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let result = await execa('apt-get', ['install', '-y', '-q', pkg], { reject: false, all: true, env });
  if (result.exitCode !== 0) {
    // A fresh machine has no package lists yet.
    await execa('apt-get', ['update', '-q'], { reject: false, env });
    result = await execa('apt-get', ['install', '-y', '-q', pkg], { reject: false, all: true, env });
  }
  if (result.exitCode !== 0) {
    const tail = String(result.all ?? '').split('\n').slice(-10).join('\n');
    throw new KernelSpecError(`'${line}' failed (exit ${result.exitCode}):\n${tail}`);
  }
}

async function gitToplevel(treePath: string): Promise<string | null> {
  const result = await execa('git', ['-C', treePath, 'rev-parse', '--show-toplevel'], { reject: false });
  return result.exitCode === 0 ? String(result.stdout).trim() : null;
}

async function assertDirectory(treePath: string): Promise<string> {
  const abs = path.resolve(treePath);
  const st = await fs.stat(abs).catch(() => null);
  if (!st?.isDirectory()) throw new KernelSpecError(`kernel tree ${abs} is not a directory`);
  if (!(await pathExists(path.join(abs, 'Makefile')))) {
    throw new KernelSpecError(`kernel tree ${abs} has no top-level Makefile (is it a Linux source tree?)`);
  }
  return abs;
}

async function resolveTreeAtRef(treePath: string, ref: string, ctx: SourceContext): Promise<ResolvedSource> {
  const abs = path.resolve(treePath);
  const top = await gitToplevel(abs);
  if (top === null) throw new KernelSpecError(`kernel tree ${abs} is not a git repository, so @${ref} cannot be used`);
  const rev = await execa('git', ['-C', top, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { reject: false });
  const commit = String(rev.stdout).trim();
  if (rev.exitCode !== 0 || commit === '') {
    throw new KernelSpecError(`ref '${ref}' does not name a commit in ${top}`);
  }
  const key = hashParts(['git-commit-v1', commit]);
  const dir = path.join(ctx.cacheDir, 'src', `git-${commit.slice(0, 12)}-${hashParts([top]).slice(0, 8)}`);
  const ready = `${dir}.ready`;
  if (!(await pathExists(ready))) {
    // A half-made worktree (interrupted earlier) or one whose admin entry was pruned: start over.
    await execa('git', ['-C', top, 'worktree', 'prune'], { reject: false });
    if (await pathExists(dir)) {
      await execa('git', ['-C', top, 'worktree', 'remove', '--force', dir], { reject: false });
      await fs.rm(dir, { recursive: true, force: true });
    }
    ctx.log(`git worktree add --detach ${dir} ${commit}`);
    await fs.mkdir(path.dirname(dir), { recursive: true });
    await execa('git', ['-C', top, 'worktree', 'add', '--detach', dir, commit]);
    await fs.writeFile(ready, `${commit}\n`);
  }
  return { dir, key, description: `git tree ${top} at ${ref} (${commit})`, revision: `g${commit.slice(0, 12)}`, cacheOwned: true };
}

async function resolveTreeAsIs(treePath: string, ctx: SourceContext): Promise<ResolvedSource> {
  const abs = await assertDirectory(treePath);
  const top = await gitToplevel(abs);
  if (top === null) {
    ctx.warn(`kernel tree ${abs} is not a git tree: it cannot be identified, so its builds are not cached`);
    return { dir: abs, key: null, description: `tree ${abs} (not git)`, cacheOwned: false };
  }
  // A tree inside the cache (npm run bisect's worktree) is the harness's own: its build dir can live inside it,
  // which gives the same relative srctree as every cache-owned build, so ccache hits across them.
  const owned = isInside(await fs.realpath(abs), ctx.cacheDir);
  const head = String((await execa('git', ['-C', abs, 'rev-parse', 'HEAD'])).stdout).trim();
  const diff = (await execa('git', ['-C', abs, 'diff', 'HEAD', '--binary'], { encoding: 'buffer' })).stdout;
  const dirty = diff.length > 0;
  return {
    dir: abs,
    key: hashParts(['git-worktree-state-v1', head, Buffer.from(diff)]),
    description: `tree ${abs} at HEAD ${head}${dirty ? ' + uncommitted changes' : ''}`,
    revision: `g${head.slice(0, 12)}${dirty ? '-dirty' : ''}`,
    cacheOwned: owned,
  };
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

// Entries of a source dir that are not source: our build dirs and git's metadata.
export function isBuildOrGitEntry(name: string): boolean {
  return name === '.git' || name.startsWith('ih-out-');
}

// Copies the source tree. Cache-owned trees are hard-linked: cheap, keeps mtimes (so make rebuilds
// only what a patch touches), and safe because patch/git apply replace files instead of writing
// through links. A user's tree is copied for real: their editor may write in place.
async function copySourceTree(from: ResolvedSource, to: string): Promise<void> {
  await fs.mkdir(to, { recursive: true });
  const entries = (await fs.readdir(from.dir)).filter((name) => !isBuildOrGitEntry(name));
  const mode = from.cacheOwned ? ['-al'] : ['-a', '--reflink=auto'];
  // Batches keep the argv short on trees with many top-level entries.
  for (let i = 0; i < entries.length; i += 200) {
    const batch = entries.slice(i, i + 200).map((name) => path.join(from.dir, name));
    await execa('cp', [...mode, ...batch, `${to}/`]);
  }
}

export interface PatchFile {
  file: string;
  text: string;
}

export async function loadPatches(files: readonly string[]): Promise<PatchFile[]> {
  return Promise.all(
    files.map(async (file) => {
      try {
        return { file: path.resolve(file), text: await fs.readFile(file, 'utf8') };
      } catch (err) {
        throw new KernelSpecError(`patch ${file} cannot be read (--patch expects a file path)`, { cause: err });
      }
    }),
  );
}

// A copy of the base source with the patches applied in order, keyed by (base, patches) so the
// unpatched base is never modified.
export async function patchedSource(
  base: ResolvedSource,
  patches: readonly PatchFile[],
  ctx: SourceContext,
): Promise<ResolvedSource> {
  const key = base.key === null ? null : patchedSourceKey(base.key, patches.map((p) => p.text));
  const name = key ?? `nogit-${hashParts([base.dir]).slice(0, 8)}-${process.pid}`;
  const dir = path.join(ctx.cacheDir, 'src', `patched-${name}`);
  if (key === null) await fs.rm(dir, { recursive: true, force: true });
  await createDirAtomically(dir, async (tmp) => {
    ctx.log(`copying ${base.dir} and applying ${patches.length} patch(es)`);
    await copySourceTree(base, tmp);
    for (const patch of patches) await applyPatch(tmp, patch, ctx);
  });
  const names = patches.map((p) => path.basename(p.file)).join(', ');
  return {
    dir,
    key,
    description: `${base.description} + patches ${names}`,
    ...(base.revision !== undefined ? { revision: base.revision } : {}),
    cacheOwned: true,
  };
}

async function applyPatch(dir: string, patch: PatchFile, ctx: SourceContext): Promise<void> {
  // GNU patch rather than git apply: git apply inside a cache dir that lives in a git checkout
  // resolves paths against that checkout. --dry-run first, so a failure leaves nothing half-applied.
  const args = ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', patch.file];
  const dry = await execa('patch', ['--dry-run', ...args], { cwd: dir, reject: false, all: true });
  if (dry.exitCode !== 0) {
    const output = String(dry.all ?? '');
    throw new KernelPatchError(patch.file, `patch ${patch.file} does not apply: ${patchFailureDetail(patch.text, output)}`);
  }
  const real = await execa('patch', args, { cwd: dir, reject: false, all: true });
  ctx.log(`applied ${patch.file}`);
  if (real.exitCode !== 0) {
    throw new KernelPatchError(patch.file, `patch ${patch.file} failed after a clean dry run:\n${String(real.all ?? '')}`);
  }
}
