import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { aptCache } from './apt-answers.ts';
import { InfraError, UsageError, tail } from '../../harness/errors.ts';
import { cacheDir, fillCacheDir } from '../cache.ts';
import type { ResolvedKernel } from './types.ts';

/** Debian kernel images for a version alias: linux-image-<v>.<n>-amd64-unsigned and its +deb variants. */
export function debianPackagePattern(version: string): RegExp {
  const v = version.replace('.', '\\.');
  // 6.1.0-56-amd64 and 6.12.117+deb12-amd64, not the -rt- or -cloud- flavours.
  return new RegExp(`^linux-image-${v}[.][0-9]+[-+][0-9a-z]+-amd64-unsigned$`);
}

/** Picks the newest package among names like linux-image-6.1.0-56-amd64-unsigned (numeric, not lexical). */
export function newestPackage(names: string[]): string | undefined {
  const key = (n: string) => (n.match(/\d+/g) ?? []).map(Number);
  return [...names].sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const d = (ka[i] ?? -1) - (kb[i] ?? -1);
      if (d !== 0) return d;
    }
    return a.localeCompare(b);
  }).at(-1);
}

async function aptCacheNames(regex: string): Promise<string[]> {
  const r = await aptCache(['search', '--names-only', regex]);
  if (r.exitCode !== 0) throw new InfraError(`apt-cache search ${regex} failed: ${tail(r.stderr)}`);
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

/** Resolves a version alias like 6.1 to the newest Debian kernel image package that apt knows (by the catalog's pattern, if given). */
export async function resolveDebianAlias(version: string, pattern = debianPackagePattern(version)): Promise<string | undefined> {
  let names = (await aptCacheNames(pattern.source)).filter((n) => pattern.test(n));
  if (names.length === 0 && process.getuid?.() === 0) {
    // A fresh machine has no package lists yet.
    await execa('apt-get', ['update', '-q'], { reject: false });
    names = (await aptCacheNames(pattern.source)).filter((n) => pattern.test(n));
  }
  return newestPackage(names);
}

async function packageVersion(pkg: string): Promise<string> {
  const r = await aptCache(['show', '--no-all-versions', pkg]);
  const m = r.stdout.match(/^Version: (.+)$/m);
  if (r.exitCode !== 0 || !m?.[1]) {
    throw new UsageError(`--kernel deb:${pkg}: apt knows no package of that name (try 'apt-cache search linux-image' or run 'apt-get update')`);
  }
  return m[1];
}

/** Unpacks a kernel .deb's files under `root` (dpkg-deb -x: no maintainer scripts, nothing installed). */
export async function unpackDeb(deb: string, root: string): Promise<void> {
  const x = await execa('dpkg-deb', ['-x', deb, root], { reject: false });
  if (x.exitCode !== 0) throw new InfraError(`dpkg-deb -x ${deb} failed: ${tail(x.stderr)}`);
}

/**
 * The bootable kernel in an unpacked Debian kernel package: root/boot/vmlinuz-<release> for QEMU,
 * root/lib/modules/<release> for the initramfs, root/boot/config-<release> when the package has it.
 */
export async function unpackedKernel(root: string, what: string, k: { spec: string; source: string; version: string }): Promise<ResolvedKernel> {
  const images = (await readdir(join(root, 'boot'))).filter((f) => f.startsWith('vmlinuz-'));
  if (images.length !== 1) throw new InfraError(`${what} holds ${images.length} vmlinuz files, expected 1`);
  const release = images[0]!.slice('vmlinuz-'.length);
  const config = join(root, 'boot', `config-${release}`);
  return {
    ...(existsSync(config) ? { configPath: config } : {}),
    spec: k.spec,
    label: release,
    bootImage: join(root, 'boot', images[0]!),
    modulesRoot: root,
    release,
    source: k.source,
    version: k.version,
  };
}

/** Downloads (apt-get download) and unpacks (dpkg-deb -x) a kernel package into the cache; never installs it. */
export async function fetchDebianKernel(pkg: string, spec: string): Promise<ResolvedKernel> {
  const version = await packageVersion(pkg);
  const dir = cacheDir('kernels', 'deb', `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
  if (!existsSync(join(dir, '.complete'))) {
    await fillCacheDir(dir, async (tmp) => {
      const dl = await execa('apt-get', ['download', `${pkg}=${version}`], { cwd: tmp, reject: false });
      if (dl.exitCode !== 0) throw new InfraError(`apt-get download ${pkg}=${version} failed: ${tail(dl.stderr)}`);
      const debs = (await readdir(tmp)).filter((f) => f.endsWith('.deb'));
      if (debs.length !== 1) throw new InfraError(`apt-get download ${pkg} left ${debs.length} .deb files in ${tmp}`);
      await unpackDeb(join(tmp, debs[0]!), join(tmp, 'root'));
      await execa('rm', ['-f', join(tmp, debs[0]!)]);
      await execa('touch', [join(tmp, '.complete')]);
    });
  }
  return unpackedKernel(join(dir, 'root'), `package ${pkg}`, { spec, source: `debian:${pkg}=${version}`, version });
}
