/**
 * Whether dm_integrity_ctr() accepts a superblock for a given table, and if not, the ti->error it reports
 * (the kernel logs "device-mapper: table: <dev>: integrity: <error> (-EINVAL)"). The checks run in the
 * kernel's order (drivers/md/dm-integrity.c, dm_integrity_ctr() after sync_rw_sb()), so the first failing one
 * names the error. Only what the table and the superblock alone decide is modelled: device size checks are not.
 */
import { SB_MAGIC, SB_BYTES, MIN_LOG2_INTERLEAVE_SECTORS, MAX_LOG2_INTERLEAVE_SECTORS, SB_FLAG } from './superblock.ts';
import { ModelInputError } from '../errors.ts';

export interface IntegrityTable {
  /** the table's tag size (4th argument) */
  tagSize: number;
  /** block_size:N / 512, default 1 */
  sectorsPerBlock: number;
  metaDevice: boolean;
  journalMac: boolean;
  /** the newest superblock version the kernel knows: 5 before 6.11 (SB_VERSION_5), 6 from 6.11 (inline) */
  maxVersion: number;
}

export type Activation = { ok: true } | { ok: false; error: string };

export function expectActivation(sbArea: Buffer, t: IntegrityTable): Activation {
  if (sbArea.length < SB_BYTES) throw new ModelInputError(`superblock area is ${sbArea.length} bytes, need ${SB_BYTES}`);
  const refuse = (error: string): Activation => ({ ok: false, error });
  if (!sbArea.subarray(0, 8).equals(SB_MAGIC)) {
    // an all-zero area is formatted by the kernel itself; anything else is refused
    return sbArea.every((b) => b === 0) ? { ok: true } : refuse('The device is not initialized');
  }
  const version = sbArea.readUInt8(8);
  if (version === 0 || version > t.maxVersion) return refuse('Unknown version');
  if (sbArea.readUInt16LE(10) !== t.tagSize) return refuse("Tag size doesn't match the information in superblock");
  if (sbArea.readUInt8(28) !== Math.log2(t.sectorsPerBlock)) return refuse("Block size doesn't match the information in superblock");
  if (sbArea.readUInt32LE(12) === 0) return refuse('Corrupted superblock, journal_sections is 0');
  const li = sbArea.readUInt8(9);
  if (t.metaDevice ? li !== 0 : li < MIN_LOG2_INTERLEAVE_SECTORS || li > MAX_LOG2_INTERLEAVE_SECTORS) {
    return refuse('Invalid interleave_sectors in the superblock');
  }
  if (!!(sbArea.readUInt32LE(24) & SB_FLAG.HAVE_JOURNAL_MAC) !== t.journalMac) return refuse('Journal mac mismatch');
  return { ok: true };
}

/** The superblock version limit for a kernel version ([major, minor]). */
export function maxSuperblockVersion(kernel: readonly number[]): number {
  const [major = 0, minor = 0] = kernel;
  return major > 6 || (major === 6 && minor >= 11) ? 6 : 5;
}

/**
 * `dmsetup table` of an integrity target: "<start> <len> integrity <dev> <offset> <tag_size> <mode> <#opts> <opts...>".
 */
export function parseIntegrityTable(line: string): (Omit<IntegrityTable, 'maxVersion'> & { mode: string }) | undefined {
  const f = line.trim().split(/\s+/);
  if (f[2] !== 'integrity' || f.length < 8) return undefined;
  const opts = f.slice(8);
  const blockSize = opts.find((o) => o.startsWith('block_size:'));
  return {
    tagSize: Number(f[5]),
    mode: f[6]!,
    sectorsPerBlock: blockSize ? Number(blockSize.split(':')[1]) / 512 : 1,
    metaDevice: opts.some((o) => o.startsWith('meta_device:')),
    journalMac: opts.some((o) => o.startsWith('journal_mac:')),
  };
}
