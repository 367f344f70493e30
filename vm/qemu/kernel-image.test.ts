import { describe, expect, it } from 'vitest';
import { kernelImageFormat, type ReadAt } from './kernel-image.ts';

const readerOf = (buf: Buffer): ReadAt => async (offset, length) => buf.subarray(offset, offset + length);

function note(owner: string, type: number, desc: Buffer): Buffer {
  const name = Buffer.from(`${owner}\0`);
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32LE(name.length, 0);
  hdr.writeUInt32LE(desc.length, 4);
  hdr.writeUInt32LE(type, 8);
  return Buffer.concat([hdr, pad(name), pad(desc)]);
}

/** An ELF64 x86_64 header, a PT_LOAD and a PT_NOTE program header, then the notes far into the file (as in a vmlinux). */
function elf(notes: Buffer): Buffer {
  const notesAt = 0x10000;
  const buf = Buffer.alloc(notesAt + notes.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little-endian
  buf.writeBigUInt64LE(64n, 0x20); // e_phoff
  buf.writeUInt16LE(56, 0x36); // e_phentsize
  buf.writeUInt16LE(2, 0x38); // e_phnum
  buf.writeUInt32LE(1, 64); // PT_LOAD
  buf.writeUInt32LE(4, 64 + 56); // PT_NOTE
  buf.writeBigUInt64LE(BigInt(notesAt), 64 + 56 + 8);
  buf.writeBigUInt64LE(BigInt(notes.length), 64 + 56 + 32);
  notes.copy(buf, notesAt);
  return buf;
}

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
