import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';
import { cacheDir, writeCacheFile } from '../cache.ts';

/** Modules loaded at boot (when built as modules): the devices, device-mapper targets and AF_ALG. */
export const BOOT_MODULES = [
  'virtio_pci', 'virtio_blk', 'virtio_console', 'nvme',
  'dm_mod', 'dm_integrity', 'dm_crypt', 'dm_flakey', 'dm_log_writes', 'dm_dust', 'dm_delay',
  'algif_hash', 'algif_skcipher', 'algif_aead', 'algif_rng',
];

/**
 * Ciphers, hashes and CRC libraries the kernel auto-loads through /sbin/modprobe on demand. Not the rest of
 * kernel/lib/ (test_bpf.ko alone is 4.7 MB): every byte of the initramfs is unpacked by the emulated CPU at
 * each boot, and the dependency closure brings in whatever these need.
 */
export function shippedOnDemand(path: string): boolean {
  if (/\/(tcrypt|test_[^/]*)\.ko/.test(path)) return false;
  return ['kernel/crypto/', 'kernel/arch/x86/crypto/', 'kernel/lib/crypto/'].some((d) => path.startsWith(d))
    || /^kernel\/lib\/(lib)?crc[^/]*\.ko/.test(path);
}

export function moduleName(path: string): string {
  const base = path.split('/').at(-1) ?? path;
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** Parses modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko") into path -> dependency paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const rest = line.slice(colon + 1).trim();
    deps.set(line.slice(0, colon), rest === '' ? [] : rest.split(/\s+/));
  }
  return deps;
}

export interface ModuleSelection {
  /** Module files (relative to lib/modules/<release>) to ship, dependencies included. */
  files: string[];
  /** Modules to modprobe at boot, in order (only those that exist as modules in this kernel). */
  load: string[];
}

/** The closure under modules.dep of the boot modules plus every crypto module. */
export function selectModules(deps: Map<string, string[]>): ModuleSelection {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const load = BOOT_MODULES.filter((m) => byName.has(m));
  const wanted = [...load.map((m) => byName.get(m)!), ...[...deps.keys()].filter(shippedOnDemand)];
  const files = new Set<string>();
  const visit = (p: string) => {
    if (files.has(p)) return;
    files.add(p);
    for (const d of deps.get(p) ?? []) visit(d);
  };
  wanted.forEach(visit);
  return { files: [...files].sort(), load };
}

/** A module tree's identity for the modules.dep cache: every file's path, size and mtime (~5000 stats, ~50 ms). */
async function treeStamp(src: string, release: string): Promise<string> {
  const h = createHash('sha256').update(`${release}\n${await realpath(src)}\n`);
  const entries = (await readdir(src, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() || e.isSymbolicLink())
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort();
  for (const f of entries) {
    const st = statSync(f, { throwIfNoEntry: false });
    h.update(`${f.slice(src.length)} ${st?.size ?? -1} ${st?.mtimeMs ?? -1}\n`);
  }
  return h.digest('hex').slice(0, 24);
}

/**
 * modules.dep for a module tree. The tree is not modified (it may be the user's): depmod runs on a scratch
 * root whose lib/modules/<release> links to the tree's contents (kmod 30's depmod has no --outdir). Its output
 * is kept in the cache for as long as no file of the tree changes: depmod over a Debian kernel's ~4000
 * modules took 3-7 s of every run before the guest could boot.
 */
export async function readModulesDep(modulesRoot: string, release: string, scratch: string): Promise<Map<string, string[]>> {
  const src = join(modulesRoot, 'lib', 'modules', release);
  const own = join(src, 'modules.dep');
  if (existsSync(own)) return parseModulesDep(await readFile(own, 'utf8'));
  const kept = cacheDir('moddep', `${await treeStamp(src, release)}.dep`);
  if (existsSync(kept)) return parseModulesDep(await readFile(kept, 'utf8'));
  const dst = join(scratch, 'depmod', 'lib', 'modules', release);
  await mkdir(dst, { recursive: true });
  for (const entry of await readdir(src)) await symlink(join(src, entry), join(dst, entry));
  const r = await execa('depmod', ['-b', join(scratch, 'depmod'), release], { reject: false });
  if (r.exitCode !== 0) throw new InfraError(`depmod -b ${join(scratch, 'depmod')} ${release} failed: ${tail(r.stderr)}`);
  const text = await readFile(join(dst, 'modules.dep'), 'utf8');
  await writeCacheFile(kept, text);
  return parseModulesDep(text);
}
