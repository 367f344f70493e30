import { existsSync, statSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../../harness/errors.ts';
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
  const full = await bzImageVersion(p);
  if (full === undefined) throw new UsageError(`--kernel ${spec}: not a bzImage (no 'HdrS' setup header)`);
  const release = full.split(' ')[0]!;
  const k: ResolvedKernel = { spec, label: release, bootImage: p, release, source: `image:${p} (${full})` };
  if (modules !== undefined) k.modulesRoot = await modulesRootFor(modules, release);
  return k;
}
