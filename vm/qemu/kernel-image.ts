/**
 * What QEMU's `-kernel` is given: a bzImage (Linux boot protocol, setup header 'HdrS' at 0x202), or an
 * uncompressed ELF vmlinux that QEMU boots through the x86 PVH entry point. QEMU only takes an ELF kernel
 * whose notes include XEN_ELFNOTE_PHYS32_ENTRY (a kernel built with CONFIG_PVH=y); any other ELF makes it exit
 * at start with "Error loading uncompressed kernel without PVH ELF Note", which would show up as a guest
 * that never booted, so the image is checked before it is handed on.
 */
import { open } from 'node:fs/promises';

export type KernelImageFormat = 'bzImage' | 'pvh-elf';

/** Owner "Xen", type 18: the 32-bit physical entry point QEMU's PVH loader jumps to. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const PT_NOTE = 4;
const HEAD_BYTES = 0x210;
// A vmlinux has a handful of program headers and ~100 bytes of notes; more means this is not one.
const MAX_READ = 64 * 1024;

/** Reads `length` bytes at `offset` (fewer at the end of the image). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** The format of an image, or why QEMU could not boot it. */
export async function kernelImageFormat(read: ReadAt): Promise<KernelImageFormat | { reason: string }> {
  const head = await read(0, HEAD_BYTES);
  if (head.length >= 0x206 && head.toString('latin1', 0x202, 0x206) === 'HdrS') return 'bzImage';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x7f454c46) {
    if (await hasPvhEntryNote(head, read)) return 'pvh-elf';
    return { reason: 'an ELF image without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY: a kernel built without CONFIG_PVH=y)' };
  }
  return { reason: "neither a bzImage (no 'HdrS' setup header) nor an ELF vmlinux" };
}

/** kernelImageFormat of a file. */
export async function kernelImageFormatOf(path: string): Promise<KernelImageFormat | { reason: string }> {
  const fh = await open(path, 'r');
  try {
    return await kernelImageFormat(async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    });
  } finally {
    await fh.close();
  }
}

// ELF64 little-endian only (x86_64): the notes of its PT_NOTE segments.
async function hasPvhEntryNote(head: Buffer, read: ReadAt): Promise<boolean> {
  if (head.length < 64 || head[4] !== 2 || head[5] !== 1) return false;
  const phoff = Number(head.readBigUInt64LE(0x20));
  const phentsize = head.readUInt16LE(0x36);
  const phnum = head.readUInt16LE(0x38);
  if (phentsize < 56 || phentsize * phnum > MAX_READ) return false;
  const phdrs = await read(phoff, phentsize * phnum);
  for (let ph = 0; ph + 56 <= phdrs.length; ph += phentsize) {
    if (phdrs.readUInt32LE(ph) !== PT_NOTE) continue;
    const size = Number(phdrs.readBigUInt64LE(ph + 32));
    if (size > MAX_READ) continue;
    if (notesInclude(await read(Number(phdrs.readBigUInt64LE(ph + 8)), size), 'Xen', XEN_ELFNOTE_PHYS32_ENTRY)) return true;
  }
  return false;
}

function notesInclude(notes: Buffer, owner: string, type: number): boolean {
  const align4 = (n: number) => (n + 3) & ~3;
  for (let at = 0; at + 12 <= notes.length; ) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const name = notes.toString('latin1', at + 12, at + 12 + Math.max(namesz - 1, 0));
    if (name === owner && notes.readUInt32LE(at + 8) === type) return true;
    at += 12 + align4(namesz) + align4(descsz);
  }
  return false;
}
