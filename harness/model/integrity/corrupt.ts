/**
 * Where the host must flip bytes so that the kernel sees a corrupted block: inside the block's data
 * sectors, or inside its tag bytes in the metadata run (or on the metadata device when there is one).
 */
import { ModelInputError } from '../errors.ts';
import type { IntegrityGeometry } from './geometry.ts';

export function corruptionOffset(geom: IntegrityGeometry, block: number, where: 'data' | 'tag', byteInBlock = 0): number {
  return corruptionTarget(geom, block, where, byteInBlock).offset;
}

/** Like corruptionOffset, and names the image ('meta' only for tags with a separate metadata device). */
export function corruptionTarget(
  geom: IntegrityGeometry,
  block: number,
  where: 'data' | 'tag',
  byteInBlock = 0,
): { image: 'data' | 'meta'; offset: number } {
  if (!Number.isSafeInteger(block) || block < 0 || block >= geom.blocks) {
    throw new ModelInputError(`block ${block} outside the device (0..${geom.blocks - 1})`);
  }
  const limit = where === 'data' ? geom.blockSize : geom.tagSize;
  if (!Number.isSafeInteger(byteInBlock) || byteInBlock < 0 || byteInBlock >= limit) {
    throw new ModelInputError(`byte ${byteInBlock} outside the block's ${where} (0..${limit - 1})`);
  }
  const ls = block * geom.sectorsPerBlock;
  if (where === 'data') {
    // a block's sectors are contiguous: interleave areas are whole multiples of the block
    return { image: 'data', offset: geom.dataByteOffset(ls) + byteInBlock };
  }
  return { image: geom.separateMetadata ? 'meta' : 'data', offset: geom.tagByteOffset(ls) + byteInBlock };
}

/** Superblock fields a scenario may corrupt, and their byte offsets in `struct superblock`. */
export const SUPERBLOCK_FIELDS = { magic: 0, version: 8, interleave: 9, 'tag-size': 10 } as const;
export type SuperblockField = keyof typeof SUPERBLOCK_FIELDS;

/** The byte to flip for a superblock field: on the metadata image when there is one. */
export function superblockCorruptionTarget(geom: IntegrityGeometry, field: SuperblockField): { image: 'data' | 'meta'; offset: number } {
  return { image: geom.separateMetadata ? 'meta' : 'data', offset: geom.startSector * 512 + SUPERBLOCK_FIELDS[field] };
}

/**
 * The byte to flip in the journal (struct journal_sector: 504 bytes, then an 8-byte commit id). A section is
 * JOURNAL_BLOCK_SECTORS (8) sectors of entries followed by its data sectors: 'data' is the first byte of
 * section 0's first data sector, 'commit-id' the first commit id byte of section 0's first sector.
 */
export function journalCorruptionTarget(geom: IntegrityGeometry, where: 'data' | 'commit-id'): { image: 'data' | 'meta'; offset: number } {
  if (geom.inline || geom.journalSectionSectors <= 8) throw new ModelInputError('this device has no journal data sectors');
  const journalStart = (geom.startSector + 8) * 512;
  const offset = where === 'data' ? journalStart + 8 * 512 : journalStart + 504;
  return { image: geom.separateMetadata ? 'meta' : 'data', offset };
}
