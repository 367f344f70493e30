/**
 * Where dm-integrity puts every byte, from the superblock alone. Formulas follow drivers/md/dm-integrity.c:
 * calculate_journal_section_size(), calculate_device_limits(), get_area_and_offset(),
 * get_metadata_sector_and_offset() (with dm_bufio_set_sector_offset(start + initial_sectors)) and
 * get_data_sector(). Byte offsets are into the image file of the device the target sits on: the data
 * device, or for tags, journal and superblock the metadata device when there is a separate one.
 *
 * Layout without a metadata device, all in 512-byte sectors from `start`:
 *   [superblock 8][journal: journal_sections * journal_section_sectors]
 *   then per interleave area a: [metadata_run tags][2^log2_interleave data sectors] ...
 * With a metadata device: superblock + journal + packed tags on it, data at sector `ls` of the data device.
 * Inline mode (flag 0x20): data at start + 8 + ls; tags live in the lower device's integrity payload,
 * not in any image.
 */
import { ModelInputError } from '../errors.ts';
import { SB_SECTORS, type IntegritySuperblock } from './superblock.ts';

const SECTOR = 512;
const JOURNAL_BLOCK_SECTORS = 8;
const JOURNAL_SECTOR_DATA = SECTOR - 8; // sizeof(commit_id_t)
const JOURNAL_MAC_PER_SECTOR = 8;
const JOURNAL_ENTRY_ROUNDUP = 8;
const METADATA_PADDING_SECTORS = 8;

export type AreaKind = 'superblock' | 'journal' | 'metadata' | 'data';
export interface Area {
  kind: AreaKind;
  /** byte offset in the image of `device` */
  start: number;
  /** bytes */
  length: number;
  /** which image: 'data' unless a separate metadata device holds it */
  device: 'data' | 'meta';
  /** for metadata and data areas: the interleave area index */
  index?: number;
}

export interface IntegrityGeometry {
  sectorsPerBlock: number;
  blockSize: number;
  tagSize: number;
  interleaveSectors: number;
  initialSectors: number;
  metadataRunSectors: number;
  journalSectionSectors: number;
  journalSectionEntries: number;
  journalEntrySize: number;
  providedDataSectors: number;
  startSector: number;
  separateMetadata: boolean;
  inline: boolean;
  /** false in inline mode: tags are not in any image */
  tagsInImage: boolean;
  /** blocks the device provides */
  blocks: number;
  /** the data image must be at least this long (bytes) */
  requiredDataBytes: number;
  /** with a separate metadata device: the meta image must be at least this long (bytes); else 0 */
  requiredMetaBytes: number;
  dataByteOffset(logicalSector: number): number;
  tagByteOffset(logicalSector: number): number;
  areas(): Area[];
}

export function journalLayout(sb: Pick<IntegritySuperblock, 'tagSize' | 'log2SectorsPerBlock' | 'haveJournalMac'>) {
  const spb = 1 << sb.log2SectorsPerBlock;
  // offsetof(struct journal_entry, last_bytes[spb]) = 8 + 8 * spb
  const entrySize = roundUp(8 + 8 * spb + sb.tagSize, JOURNAL_ENTRY_ROUNDUP);
  const sectorSpace = JOURNAL_SECTOR_DATA - (sb.haveJournalMac ? JOURNAL_MAC_PER_SECTOR : 0);
  const entriesPerSector = Math.floor(sectorSpace / entrySize);
  const sectionEntries = entriesPerSector * JOURNAL_BLOCK_SECTORS;
  const sectionSectors = (sectionEntries << sb.log2SectorsPerBlock) + JOURNAL_BLOCK_SECTORS;
  return { entrySize, entriesPerSector, sectionEntries, sectionSectors };
}

/** metadata_run in sectors, for the no-metadata-device layout (calculate_device_limits). */
export function metadataRunSectors(sb: Pick<IntegritySuperblock, 'tagSize' | 'log2InterleaveSectors' | 'log2SectorsPerBlock' | 'fixedPadding'>): number {
  const padding = sb.fixedPadding ? METADATA_PADDING_SECTORS * SECTOR : SECTOR << METADATA_PADDING_SECTORS;
  const bytes = sb.tagSize * 2 ** (sb.log2InterleaveSectors - sb.log2SectorsPerBlock);
  return roundUp(bytes, padding) / SECTOR;
}

export function integrityGeometry(
  sb: IntegritySuperblock,
  opts: { startSector?: number; separateMetadata?: boolean } = {},
): IntegrityGeometry {
  const start = opts.startSector ?? 0;
  if (!Number.isSafeInteger(start) || start < 0) throw new ModelInputError(`startSector must be a non-negative integer, got ${start}`);
  const separate = opts.separateMetadata ?? false;
  const inline = sb.inline;
  if (separate && inline) throw new ModelInputError('inline mode cannot have a separate metadata device');
  if (separate && sb.log2InterleaveSectors !== 0) {
    throw new ModelInputError(`superblock has log2_interleave_sectors ${sb.log2InterleaveSectors}; with a metadata device it is 0`);
  }
  if (!separate && !inline && sb.log2InterleaveSectors === 0) {
    throw new ModelInputError('superblock has log2_interleave_sectors 0: it belongs to a device with a separate metadata device (pass --meta)');
  }
  const spb = 1 << sb.log2SectorsPerBlock;
  const j = journalLayout(sb);
  const initialSectors = SB_SECTORS + j.sectionSectors * sb.journalSections;
  const li = sb.log2InterleaveSectors;
  const interleave = 2 ** li;
  const mrun = separate || inline ? (inline ? 0 : 1) : metadataRunSectors(sb);
  const provided = sb.providedDataSectors;
  const tagSize = sb.tagSize;
  const log2spb = sb.log2SectorsPerBlock;

  const checkSector = (ls: number) => {
    if (!Number.isSafeInteger(ls) || ls < 0 || ls >= provided) {
      throw new ModelInputError(`logical sector ${ls} outside the device (0..${provided - 1})`);
    }
  };
  const dataSector = (ls: number): number => {
    if (inline) return start + SB_SECTORS + ls;
    if (separate) return ls;
    const area = Math.floor(ls / interleave);
    const off = ls - area * interleave;
    return start + initialSectors + area * interleave + (area + 1) * mrun + off;
  };
  const tagByte = (ls: number): number => {
    const metaBase = (start + initialSectors) * SECTOR;
    if (separate) return metaBase + Math.floor(ls / spb) * tagSize;
    const area = Math.floor(ls / interleave);
    const off = ls - area * interleave;
    return metaBase + area * (interleave + mrun) * SECTOR + Math.floor(off / spb) * tagSize;
  };

  const lastLs = provided - 1;
  const requiredDataBytes = (dataSector(lastLs) + 1) * SECTOR;
  const requiredMetaBytes = separate ? roundUp(tagByte(lastLs - (lastLs % spb)) + tagSize, SECTOR) : 0;

  return {
    sectorsPerBlock: spb,
    blockSize: spb * SECTOR,
    tagSize,
    interleaveSectors: interleave,
    initialSectors,
    metadataRunSectors: mrun,
    journalSectionSectors: j.sectionSectors,
    journalSectionEntries: j.sectionEntries,
    journalEntrySize: j.entrySize,
    providedDataSectors: provided,
    startSector: start,
    separateMetadata: separate,
    inline,
    tagsInImage: !inline,
    blocks: provided / spb,
    requiredDataBytes,
    requiredMetaBytes,
    dataByteOffset(ls) {
      checkSector(ls);
      return dataSector(ls) * SECTOR;
    },
    tagByteOffset(ls) {
      checkSector(ls);
      if (inline) throw new ModelInputError('inline mode keeps tags in the lower device integrity payload, not in the image');
      return tagByte(ls - (ls % spb));
    },
    areas() {
      const meta = separate ? 'meta' : 'data';
      const out: Area[] = [
        { kind: 'superblock', start: start * SECTOR, length: SB_SECTORS * SECTOR, device: meta },
      ];
      if (initialSectors > SB_SECTORS) {
        out.push({ kind: 'journal', start: (start + SB_SECTORS) * SECTOR, length: (initialSectors - SB_SECTORS) * SECTOR, device: meta });
      }
      if (inline) {
        out.push({ kind: 'data', start: dataSector(0) * SECTOR, length: provided * SECTOR, device: 'data', index: 0 });
      } else if (separate) {
        const tagBytes = (provided / spb) * tagSize;
        out.push({ kind: 'metadata', start: (start + initialSectors) * SECTOR, length: tagBytes, device: 'meta', index: 0 });
        out.push({ kind: 'data', start: 0, length: provided * SECTOR, device: 'data', index: 0 });
      } else {
        const nAreas = Math.ceil(provided / interleave);
        for (let a = 0; a < nAreas; a++) {
          const base = start + initialSectors + a * (interleave + mrun);
          const dataSectors = Math.min(interleave, provided - a * interleave);
          out.push({ kind: 'metadata', start: base * SECTOR, length: mrun * SECTOR, device: 'data', index: a });
          out.push({ kind: 'data', start: (base + mrun) * SECTOR, length: dataSectors * SECTOR, device: 'data', index: a });
        }
      }
      return out;
    },
  };
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}
