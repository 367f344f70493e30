import { existsSync, statSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
import { kernelImageFormatOf } from '../qemu/kernel-image.ts';
import type { ResolvedKernel } from './types.ts';

/**
 * The version string a bzImage carries in its setup header (boot protocol >= 2.00: a pointer at 0x20e,
 * relative to 0x200), e.g. "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP ...".
 */
export async function bzImageVersion(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const hdr = Buffer.alloc(0x210);
    await fh.read(hdr, 0, hdr.length, 0);
    if (hdr.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
    const ptr = hdr.readUInt16LE(0x20e);
    const buf = Buffer.alloc(256);
    await fh.read(buf, 0, buf.length, ptr + 0x200);
    const s = buf.toString('latin1');
    return s.slice(0, s.indexOf('\0') >= 0 ? s.indexOf('\0') : undefined).trim() || undefined;
  } finally {
    await fh.close();
  }
}

const BANNER = Buffer.from('Linux version ');
const SCAN_CHUNK = 4 * 1024 * 1024;

/**
 * The release in an ELF vmlinux's banner (init/version.c's linux_banner, "Linux version 6.1.0 (user@host)
 * ..."), found by scanning the file; undefined when there is none.
 */
export async function vmlinuxRelease(path: string): Promise<string | undefined> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(SCAN_CHUNK + 256);
    let keep = 0;
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, keep, SCAN_CHUNK, pos);
      if (bytesRead === 0) return undefined;
      pos += bytesRead;
      const have = buf.subarray(0, keep + bytesRead);
      for (let at = have.indexOf(BANNER); at >= 0; at = have.indexOf(BANNER, at + 1)) {
        const rest = have.toString('latin1', at + BANNER.length, Math.min(have.length, at + BANNER.length + 128));
        const release = /^([0-9][^\s\0]*) \(/.exec(rest)?.[1];
        if (release) return release;
      }
      keep = Math.min(256, have.length);
      have.copy(buf, 0, have.length - keep);
    }
  } finally {
    await fh.close();
  }
}

/** --modules accepts lib/modules/<release>, lib/modules, or a root that contains lib/modules. */
async function modulesRootFor(dir: string, release: string | undefined): Promise<string> {
  const d = resolve(dir);
  if (existsSync(join(d, 'lib', 'modules'))) return d;
  if (basename(d) === 'modules' && existsSync(join(d, '..', '..', 'lib', 'modules'))) return resolve(d, '..', '..');
  if (existsSync(join(d, 'modules.order')) || existsSync(join(d, 'kernel'))) {
    if (release !== undefined && basename(d) !== release) {
      throw new UsageError(`--modules ${dir}: directory is for '${basename(d)}' but the image is '${release}'`);
    }
    return resolve(d, '..', '..', '..');
  }
  const entries = existsSync(d) ? await readdir(d) : [];
  throw new UsageError(`--modules ${dir}: expected lib/modules/<release> or a root containing it (found: ${entries.slice(0, 5).join(', ') || 'nothing'})`);
}

export async function resolveImageKernel(path: string, spec: string, modules?: string): Promise<ResolvedKernel> {
  const p = resolve(path);
  if (!existsSync(p) || !statSync(p).isFile()) throw new UsageError(`--kernel ${spec}: no such file`);
  const format = await kernelImageFormatOf(p);
  if (typeof format !== 'string') throw new UsageError(`--kernel ${spec}: QEMU cannot boot it: ${format.reason}`);
  let k: ResolvedKernel;
  if (format === 'bzImage') {
    const full = await bzImageVersion(p);
    if (full === undefined) throw new UsageError(`--kernel ${spec}: a bzImage without a version string in its setup header`);
    const release = full.split(' ')[0]!;
    k = { spec, label: release, bootImage: p, release, source: `image:${p} (${full})` };
  } else {
    // an uncompressed vmlinux with CONFIG_PVH=y, as a tree's own build leaves it: QEMU boots it through PVH
    const release = await vmlinuxRelease(p);
    k = { spec, label: release ?? basename(p), bootImage: p, ...(release ? { release } : {}), source: `image:${p} (ELF vmlinux, PVH${release ? `, ${release}` : ''})` };
  }
  if (modules !== undefined) k.modulesRoot = await modulesRootFor(modules, k.release);
  return k;
}
