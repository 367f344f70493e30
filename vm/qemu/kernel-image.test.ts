import { describe, expect, it } from 'vitest';
import { elf, note } from './kernel-image-fixtures.ts';
import { kernelImageFormat, type ReadAt } from './kernel-image.ts';

const readerOf = (buf: Buffer): ReadAt => async (offset, length) => buf.subarray(offset, offset + length);

describe('kernelImageFormat', () => {
  it('takes a bzImage by its setup header', async () => {
    const bz = Buffer.alloc(0x1000);
    bz.write('HdrS', 0x202, 'latin1');
    expect(await kernelImageFormat(readerOf(bz))).toBe('bzImage');
  });

  it('takes an ELF vmlinux whose notes include the PVH entry point, after other notes', async () => {
    const notes = Buffer.concat([note('GNU', 3, Buffer.alloc(20, 1)), note('Linux', 6, Buffer.from('6.1\0')), note('Xen', 18, Buffer.from([0xa0, 4, 0, 1, 0, 0, 0, 0]))]);
    expect(await kernelImageFormat(readerOf(elf(notes)))).toBe('pvh-elf');
  });

  it('refuses an ELF vmlinux without the PVH note, saying which option it lacks', async () => {
    const notes = Buffer.concat([note('GNU', 3, Buffer.alloc(20, 1)), note('Xen', 17, Buffer.alloc(8))]);
    expect(await kernelImageFormat(readerOf(elf(notes)))).toEqual({ reason: expect.stringContaining('CONFIG_PVH=y') });
  });

  it('refuses anything else', async () => {
    expect(await kernelImageFormat(readerOf(Buffer.from('070701...cpio')))).toEqual({ reason: expect.stringContaining('neither a bzImage') });
  });
});
