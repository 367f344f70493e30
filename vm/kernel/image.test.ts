import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { elf, note, PVH_NOTES } from '../qemu/kernel-image-fixtures.ts';
import { resolveImageKernel } from './image.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-image-'));
const file = (name: string, content: Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

describe('resolveImageKernel', () => {
  it('takes a bzImage and its release from the setup header', async () => {
    const bz = Buffer.alloc(0x2000);
    bz.write('HdrS', 0x202, 'latin1');
    bz.writeUInt16LE(0x1000 - 0x200, 0x20e);
    bz.write('6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\0', 0x1000, 'latin1');
    const k = await resolveImageKernel(file('bzImage', bz), './bzImage');
    expect(k).toMatchObject({ release: '6.1.0-56-amd64', label: '6.1.0-56-amd64', bootImage: join(dir, 'bzImage') });
  });

  it('takes an ELF vmlinux with the PVH note, its release from the banner even across the scan chunks', async () => {
    // the banner straddles the 4 MiB read boundary; an earlier "Linux version " without a release is skipped
    const pad = Buffer.alloc(4 * 1024 * 1024 - 0x10000 - 200);
    pad.write('Linux version %s\0', 100, 'latin1');
    const banner = Buffer.from('Linux version 6.1.192-ih (root@host) (gcc (Debian 12.2.0-14) 12.2.0) #1 SMP\0');
    const p = file('vmlinux', elf(PVH_NOTES(), Buffer.concat([pad, banner, Buffer.alloc(4096)])));
    const k = await resolveImageKernel(p, p);
    expect(k).toMatchObject({ release: '6.1.192-ih', label: '6.1.192-ih', bootImage: p });
    expect(k.source).toContain('PVH');
  });

  it('names a vmlinux without a banner by its file name', async () => {
    const p = file('vmlinux-nobanner', elf(PVH_NOTES()));
    const k = await resolveImageKernel(p, p);
    expect(k.label).toBe('vmlinux-nobanner');
    expect(k.release).toBeUndefined();
  });

  it('refuses a vmlinux QEMU cannot boot, saying which option it lacks, and anything else', async () => {
    const noPvh = file('vmlinux-nopvh', elf(note('GNU', 3, Buffer.alloc(20, 1))));
    await expect(resolveImageKernel(noPvh, noPvh)).rejects.toThrow(/--kernel .*vmlinux-nopvh: QEMU cannot boot it: .*CONFIG_PVH=y/);
    const junk = file('junk', Buffer.from('not a kernel'));
    await expect(resolveImageKernel(junk, junk)).rejects.toThrow(/neither a bzImage/);
    await expect(resolveImageKernel(join(dir, 'missing'), 'missing')).rejects.toThrow(/no such file/);
  });
});
