/**
 * dm-integrity superblock (drivers/md/dm-integrity.c, `struct superblock`, SB_* constants): the first
 * 4 KiB (SB_SECTORS = 8) at the target's start on the metadata device (the data device when there is no
 * separate one). All fields little-endian. Checks mirror what dm_integrity_ctr() refuses, plus fields the
 * kernel can never have written (those would be format drift or the wrong image).
 */
import { ModelInputError } from '../errors.ts';

export { ModelInputError };

export const SB_MAGIC = Buffer.from('integrt\0', 'latin1');
export const SB_SECTORS = 8;
export const SB_BYTES = SB_SECTORS * 512;
export const SALT_SIZE = 16;
/** JOURNAL_SECTOR_DATA - JOURNAL_MAC_PER_SECTOR - offsetof(struct journal_entry, last_bytes[8]) = 504 - 8 - 72 */
export const MAX_TAG_SIZE = 424;
export const MIN_LOG2_INTERLEAVE_SECTORS = 3;
export const MAX_LOG2_INTERLEAVE_SECTORS = 31;
export const MAX_SB_VERSION = 6;

export const SB_FLAG = {
  HAVE_JOURNAL_MAC: 0x1,
  RECALCULATING: 0x2,
  DIRTY_BITMAP: 0x4,
  FIXED_PADDING: 0x8,
  FIXED_HMAC: 0x10,
  INLINE: 0x20,
} as const;
const KNOWN_FLAGS = 0x3f;

export interface IntegritySuperblock {
  magicOk: true;
  version: number;
  log2InterleaveSectors: number;
  tagSize: number;
  journalSections: number;
  providedDataSectors: number;
  flags: number;
  log2SectorsPerBlock: number;
  log2BlocksPerBitmapBit: number;
  recalcSector: number;
  salt: Buffer;
  haveJournalMac: boolean;
  recalculating: boolean;
  dirtyBitmap: boolean;
  fixedPadding: boolean;
  fixedHmac: boolean;
  inline: boolean;
}

/** The fields a caller sets to build a superblock (synthetic images, tests). */
export type IntegritySuperblockFields = Omit<
  IntegritySuperblock,
  'magicOk' | 'haveJournalMac' | 'recalculating' | 'dirtyBitmap' | 'fixedPadding' | 'fixedHmac' | 'inline'
>;

export function parseIntegritySuperblock(buf: Buffer, source = 'superblock'): IntegritySuperblock {
  if (buf.length < 64) {
    throw new ModelInputError(`image too short for a dm-integrity superblock (${buf.length} bytes, need 64)`, { source });
  }
  if (!buf.subarray(0, 8).equals(SB_MAGIC)) {
    throw new ModelInputError(
      `not a dm-integrity superblock: magic is ${JSON.stringify(buf.subarray(0, 8).toString('latin1'))}, expected "integrt\\0"`,
      { source },
    );
  }
  const provided = buf.readBigUInt64LE(16);
  const recalc = buf.readBigUInt64LE(32);
  const sb = decodeFlags({
    version: buf.readUInt8(8),
    log2InterleaveSectors: buf.readUInt8(9),
    tagSize: buf.readUInt16LE(10),
    journalSections: buf.readUInt32LE(12),
    providedDataSectors: Number(provided),
    flags: buf.readUInt32LE(24),
    log2SectorsPerBlock: buf.readUInt8(28),
    log2BlocksPerBitmapBit: buf.readUInt8(29),
    recalcSector: Number(recalc),
    salt: Buffer.from(buf.subarray(48, 48 + SALT_SIZE)),
  });
  if (provided > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ModelInputError(`provided_data_sectors ${provided} is impossibly large`, { source });
  }
  if (recalc > BigInt(Number.MAX_SAFE_INTEGER)) sb.recalcSector = Number.MAX_SAFE_INTEGER;
  const impossible = impossibleFields(sb);
  if (impossible.length) throw new ModelInputError(`impossible superblock: ${impossible.join('; ')}`, { source });
  return sb;
}

/** Hard failures: values dm_integrity_ctr() rejects or that no kernel can produce. */
function impossibleFields(sb: IntegritySuperblock): string[] {
  const out: string[] = [];
  if (sb.version < 1 || sb.version > MAX_SB_VERSION) out.push(`unknown version ${sb.version} (known: 1..${MAX_SB_VERSION})`);
  if (sb.flags & ~KNOWN_FLAGS) out.push(`unknown flag bits 0x${(sb.flags & ~KNOWN_FLAGS).toString(16)}`);
  if (sb.tagSize < 1 || sb.tagSize > MAX_TAG_SIZE) out.push(`integrity_tag_size ${sb.tagSize} outside 1..${MAX_TAG_SIZE}`);
  if (sb.log2SectorsPerBlock > 3) out.push(`log2_sectors_per_block ${sb.log2SectorsPerBlock} > 3 (block size above 4096)`);
  if (sb.inline && sb.journalSections !== 0) out.push(`inline superblock with journal_sections ${sb.journalSections}`);
  if (!sb.inline && sb.journalSections === 0) out.push('journal_sections is 0');
  const li = sb.log2InterleaveSectors;
  if (li !== 0 && (li < MIN_LOG2_INTERLEAVE_SECTORS || li > MAX_LOG2_INTERLEAVE_SECTORS)) {
    out.push(`log2_interleave_sectors ${li} outside ${MIN_LOG2_INTERLEAVE_SECTORS}..${MAX_LOG2_INTERLEAVE_SECTORS} (or 0 with a metadata device)`);
  }
  if (li !== 0 && li < sb.log2SectorsPerBlock) out.push(`interleave 2^${li} smaller than a block`);
  if (sb.providedDataSectors === 0) out.push('provided_data_sectors is 0');
  if (sb.providedDataSectors % (1 << sb.log2SectorsPerBlock) !== 0) {
    out.push(`provided_data_sectors ${sb.providedDataSectors} not a multiple of the block (${1 << sb.log2SectorsPerBlock} sectors)`);
  }
  return out;
}

/**
 * Soft failures: the version byte disagrees with the flags. sb_set_version() derives the version from the
 * flags on every superblock write (INLINE 6, FIXED_HMAC 5, FIXED_PADDING 4, bitmap mode or DIRTY_BITMAP 3,
 * metadata device or RECALCULATING 2, else 1), so a mismatch is format drift, reported as a disagreement.
 */
export function superblockVersionProblems(sb: IntegritySuperblock): string[] {
  const exact = sb.inline ? 6 : sb.fixedHmac ? 5 : sb.fixedPadding ? 4 : 0;
  if (exact && sb.version !== exact) return [`version ${sb.version} but flags 0x${sb.flags.toString(16)} imply version ${exact}`];
  const min = sb.dirtyBitmap ? 3 : sb.recalculating ? 2 : 1;
  if (!exact && (sb.version < min || sb.version > 3)) {
    return [`version ${sb.version} but flags 0x${sb.flags.toString(16)} imply version ${min === 1 ? '1..3' : `${min}..3`}`];
  }
  if (sb.inline && sb.haveJournalMac) return ['inline superblock with a journal MAC flag'];
  return [];
}

function decodeFlags(f: IntegritySuperblockFields): IntegritySuperblock {
  return {
    magicOk: true,
    ...f,
    haveJournalMac: !!(f.flags & SB_FLAG.HAVE_JOURNAL_MAC),
    recalculating: !!(f.flags & SB_FLAG.RECALCULATING),
    dirtyBitmap: !!(f.flags & SB_FLAG.DIRTY_BITMAP),
    fixedPadding: !!(f.flags & SB_FLAG.FIXED_PADDING),
    fixedHmac: !!(f.flags & SB_FLAG.FIXED_HMAC),
    inline: !!(f.flags & SB_FLAG.INLINE),
  };
}

/** The version sb_set_version() would write for these flags (bitmap mode and metadata device passed in). */
export function kernelSuperblockVersion(flags: number, opts: { bitmapMode?: boolean; metaDevice?: boolean } = {}): number {
  if (flags & SB_FLAG.INLINE) return 6;
  if (flags & SB_FLAG.FIXED_HMAC) return 5;
  if (flags & SB_FLAG.FIXED_PADDING) return 4;
  if (opts.bitmapMode || flags & SB_FLAG.DIRTY_BITMAP) return 3;
  if (opts.metaDevice || flags & SB_FLAG.RECALCULATING) return 2;
  return 1;
}

/** Builds the 4 KiB superblock area (rest zero), for synthetic images. Validates like the parser. */
export function encodeIntegritySuperblock(f: IntegritySuperblockFields): Buffer {
  const buf = Buffer.alloc(SB_BYTES);
  SB_MAGIC.copy(buf, 0);
  buf.writeUInt8(f.version, 8);
  buf.writeUInt8(f.log2InterleaveSectors, 9);
  buf.writeUInt16LE(f.tagSize, 10);
  buf.writeUInt32LE(f.journalSections, 12);
  buf.writeBigUInt64LE(BigInt(f.providedDataSectors), 16);
  buf.writeUInt32LE(f.flags >>> 0, 24);
  buf.writeUInt8(f.log2SectorsPerBlock, 28);
  buf.writeUInt8(f.log2BlocksPerBitmapBit, 29);
  buf.writeBigUInt64LE(BigInt(f.recalcSector), 32);
  if (f.salt.length !== SALT_SIZE && f.salt.length !== 0) throw new ModelInputError(`salt must be ${SALT_SIZE} bytes`);
  f.salt.copy(buf, 48);
  parseIntegritySuperblock(buf, 'encodeIntegritySuperblock');
  return buf;
}
