/** Small ELF images for tests of kernel-image.ts and of the --kernel image path (vm/kernel/image.ts). */

export function note(owner: string, type: number, desc: Buffer): Buffer {
  const name = Buffer.from(`${owner}\0`);
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const hdr = Buffer.alloc(12);
  hdr.writeUInt32LE(name.length, 0);
  hdr.writeUInt32LE(desc.length, 4);
  hdr.writeUInt32LE(type, 8);
  return Buffer.concat([hdr, pad(name), pad(desc)]);
}

/** An ELF64 x86_64 header, a PT_LOAD and a PT_NOTE program header, then the notes far into the file (as in a vmlinux). */
export function elf(notes: Buffer, tail: Buffer = Buffer.alloc(0)): Buffer {
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
  return Buffer.concat([buf, tail]);
}

/** The PVH entry note QEMU looks for (owner Xen, type 18), and a GNU build-id note before it. */
export const PVH_NOTES = (): Buffer => Buffer.concat([note('GNU', 3, Buffer.alloc(20, 1)), note('Xen', 18, Buffer.from([0xa0, 4, 0, 1, 0, 0, 0, 0]))]);
