/**
 * What the kernel writes into a fresh superblock (initialize_superblock(), get_provided_data_sectors(),
 * calculate_device_limits() in drivers/md/dm-integrity.c), for a device of a given size. Used to build
 * synthetic images and to predict provided_data_sectors for a scenario's disk before a guest runs.
 * With a separate metadata device (metaDeviceSectors) the data device is all data and the journal is the
 * largest that fits beside the tags on the metadata device. Not inline.
 */
import { ModelInputError } from '../errors.ts';
import { integrityGeometry, journalLayout } from './geometry.ts';
import {
  kernelSuperblockVersion,
  MAX_LOG2_INTERLEAVE_SECTORS,
  MIN_LOG2_INTERLEAVE_SECTORS,
  SB_FLAG,
  SB_SECTORS,
  type IntegritySuperblock,
  type IntegritySuperblockFields,
} from './superblock.ts';

const DEFAULT_INTERLEAVE_SECTORS = 32768;
const DEFAULT_JOURNAL_SIZE_FACTOR = 7;
const DEFAULT_MAX_JOURNAL_SECTORS = 131072; // 64-bit kernels
const DEFAULT_SECTORS_PER_BITMAP_BIT = 32768;
const DEFAULT_BUFFER_SECTORS = 128;
const METADATA_PADDING_SECTORS = 8;

export interface FormatParams {
  /** size of the whole device the target sits on, in 512-byte sectors */
  deviceSectors: number;
  /** a separate metadata device (meta_device:), its size in 512-byte sectors */
  metaDeviceSectors?: number;
  /** the table's buffer_sectors at format (default 128) */
  bufferSectors?: number;
  startSector?: number;
  tagSize: number;
  sectorsPerBlock?: number;
  /** the table's interleave_sectors (rounded down to a power of two, clamped to 2^3..2^31) */
  interleaveSectors?: number;
  /** the table's journal_sectors; default min(131072, deviceSectors >> 7) */
  journalSectors?: number;
  fixPadding?: boolean;
  /** fix_hmac: sets the flag and a salt only when there is an internal hash or journal MAC */
  fixHmac?: boolean;
  internalHash?: boolean;
  journalMac?: boolean;
  bitmapMode?: boolean;
  /** the table's `recalculate`: the flag (and version 2) is set before the kernel writes the superblock */
  recalculate?: boolean;
  /** log2 of the table's sectors_per_bit (default 15: 32768 sectors) */
  log2SectorsPerBitmapBit?: number;
  salt?: Buffer;
}

/** Nothing fits: initialize_superblock() finds no provided data sectors (or no journal beside the tags). */
export class DeviceTooSmall extends ModelInputError {
  override name = 'DeviceTooSmall';
}

export function planIntegrityFormat(p: FormatParams): IntegritySuperblockFields {
  const spb = p.sectorsPerBlock ?? 1;
  if (![1, 2, 4, 8].includes(spb)) throw new ModelInputError(`sectorsPerBlock must be 1, 2, 4 or 8, got ${spb}`);
  const start = p.startSector ?? 0;
  let flags = 0;
  if (p.journalMac) flags |= SB_FLAG.HAVE_JOURNAL_MAC;
  const fixedHmac = !!p.fixHmac && (!!p.internalHash || !!p.journalMac);
  if (fixedHmac) flags |= SB_FLAG.FIXED_HMAC;
  if (p.fixPadding) flags |= SB_FLAG.FIXED_PADDING;
  if (p.recalculate) flags |= SB_FLAG.RECALCULATING;
  const log2spb = Math.log2(spb);
  const j = journalLayout({ tagSize: p.tagSize, log2SectorsPerBlock: log2spb, haveJournalMac: !!p.journalMac });
  const journalSectors = p.journalSectors ?? Math.min(DEFAULT_MAX_JOURNAL_SECTORS, Math.floor(p.deviceSectors / 2 ** DEFAULT_JOURNAL_SIZE_FACTOR));
  const journalSections = Math.max(1, Math.floor(journalSectors / j.sectionSectors));
  const interleave = p.interleaveSectors || DEFAULT_INTERLEAVE_SECTORS;
  const li = Math.min(MAX_LOG2_INTERLEAVE_SECTORS, Math.max(MIN_LOG2_INTERLEAVE_SECTORS, Math.floor(Math.log2(interleave))));

  const fields: IntegritySuperblockFields = {
    version: kernelSuperblockVersion(flags, { bitmapMode: p.bitmapMode, metaDevice: p.metaDeviceSectors !== undefined }),
    log2InterleaveSectors: li,
    tagSize: p.tagSize,
    journalSections,
    providedDataSectors: 0,
    flags,
    log2SectorsPerBlock: log2spb,
    log2BlocksPerBitmapBit: 0,
    recalcSector: 0,
    salt: fixedHmac ? (p.salt ?? Buffer.alloc(16)) : Buffer.alloc(16),
  };
  if (p.metaDeviceSectors !== undefined) return planWithMetaDevice(p, fields, journalSections, j.sectionSectors);
  const provided = providedDataSectors(fields, p.deviceSectors, start);
  if (!provided) throw new DeviceTooSmall(`device of ${p.deviceSectors} sectors is too small for dm-integrity at start ${start}`);
  fields.providedDataSectors = provided;
  fields.log2BlocksPerBitmapBit = log2BlocksPerBitmapBit(fields, p.log2SectorsPerBitmapBit);
  return fields;
}

/**
 * get_provided_data_sectors() without a metadata device: a greedy bit search over the device's size, keeping
 * each bit for which the layout (superblock, journal, interleaved tags and data from `start`) still fits.
 * 0 when nothing fits.
 */
export function providedDataSectors(f: IntegritySuperblockFields, deviceSectors: number, start = 0): number {
  const fits = (provided: number): boolean => {
    const g = integrityGeometry(asSuperblock({ ...f, providedDataSectors: provided }), { startSector: start });
    if (g.initialSectors + 8 >= deviceSectors) return false;
    return g.requiredDataBytes / 512 <= deviceSectors;
  };
  let provided = 0;
  for (let bit = Math.floor(Math.log2(deviceSectors)); bit >= 3; bit--) {
    if (fits(provided + 2 ** bit)) provided += 2 ** bit;
  }
  return provided;
}

/**
 * initialize_superblock() with a meta_dev: no interleaving (log2 0) and no padding flag; the data device is all
 * data (whole blocks); the journal gets the most sections up to what journal_sectors asks that fit beside the
 * tags (calculate_device_limits(): tags rounded up to whole buffers), with smaller buffers tried before giving up.
 */
function planWithMetaDevice(p: FormatParams, fields: IntegritySuperblockFields, wantSections: number, sectionSectors: number): IntegritySuperblockFields {
  const meta = p.metaDeviceSectors!;
  const spb = 2 ** fields.log2SectorsPerBlock;
  fields.log2InterleaveSectors = 0;
  fields.flags &= ~SB_FLAG.FIXED_PADDING;
  fields.providedDataSectors = Math.floor(p.deviceSectors / spb) * spb;
  fields.version = kernelSuperblockVersion(fields.flags, { bitmapMode: p.bitmapMode, metaDevice: true });
  if (!fields.providedDataSectors) throw new DeviceTooSmall(`a data device of ${p.deviceSectors} sectors holds no ${spb}-sector block`);
  const tagBytes = (fields.providedDataSectors / spb) * p.tagSize;
  for (let log2Buffer = Math.min(Math.floor(Math.log2(p.bufferSectors ?? DEFAULT_BUFFER_SECTORS)), 22); ; log2Buffer--) {
    const bufferBytes = 2 ** (log2Buffer + 9);
    const metaSectors = Math.ceil(tagBytes / bufferBytes) * 2 ** log2Buffer;
    const fits = (sections: number) => {
      const initial = SB_SECTORS + sectionSectors * sections;
      return initial + METADATA_PADDING_SECTORS < meta && initial + metaSectors <= meta;
    };
    let sections = 0;
    for (let bit = Math.floor(Math.log2(wantSections)); bit >= 0; bit--) {
      const test = sections | (2 ** bit);
      if (test <= wantSections && fits(test)) sections = test;
    }
    if (sections > 0) {
      fields.journalSections = sections;
      fields.log2BlocksPerBitmapBit = log2BlocksPerBitmapBit(fields, p.log2SectorsPerBitmapBit);
      return fields;
    }
    if (log2Buffer <= 3) throw new DeviceTooSmall(`a metadata device of ${meta} sectors cannot hold the tags of ${fields.providedDataSectors} data sectors and a journal`);
  }
}

/** dm_integrity_ctr(): sectors_per_bit default 32768, grown until the bitmap fits in the journal. */
export function log2BlocksPerBitmapBit(f: IntegritySuperblockFields, log2SectorsPerBit = Math.log2(DEFAULT_SECTORS_PER_BITMAP_BIT)): number {
  let l = log2SectorsPerBit;
  if (l < f.log2SectorsPerBlock) l = f.log2SectorsPerBlock;
  const j = journalLayout({ tagSize: f.tagSize, log2SectorsPerBlock: f.log2SectorsPerBlock, haveJournalMac: !!(f.flags & 1) });
  const bitsInJournal = Math.min(j.sectionSectors * f.journalSections * 512 * 8, 0xffffffff);
  while (bitsInJournal < Math.ceil(f.providedDataSectors / 2 ** l)) l++;
  return l - f.log2SectorsPerBlock;
}

export function asSuperblock(f: IntegritySuperblockFields): IntegritySuperblock {
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

export { SB_SECTORS };
