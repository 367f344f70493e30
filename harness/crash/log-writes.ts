/**
 * Reads a dm-log-writes log (drivers/md/dm-log-writes.c, Documentation/admin-guide/device-mapper/
 * log-writes.rst, Linux 6.1). Layout, all little-endian, `sectorsize` = the logged device's logical block
 * size:
 *   sector 0: super { magic u64, version u64, nr_entries u64, sectorsize u32 }
 *   then per entry, from byte `sectorsize`: one sectorsize-byte header
 *   { sector u64, nr_sectors u64, flags u64, data_len u64, [mark text of data_len bytes] }
 *   followed (unless the entry is a discard) by nr_sectors * sectorsize bytes of written data.
 * Entry sector and nr_sectors count sectorsize units. The log is in the order writes reached stable
 * storage as the target models it: plain writes at the flush after their completion, FUA writes and
 * marks at once. nr_entries is rewritten only at FUA entries and marks, so a log whose device was removed
 * (which appends the mark "dm-log-writes-end") is complete.
 */
import type { ImageSource } from '../model/image-source.ts';
import { ModelInputError } from '../model/errors.ts';

export const LOG_FLUSH = 1 << 0;
export const LOG_FUA = 1 << 1;
export const LOG_DISCARD = 1 << 2;
export const LOG_MARK = 1 << 3;
export const LOG_METADATA = 1 << 4;
const KNOWN_FLAGS = LOG_FLUSH | LOG_FUA | LOG_DISCARD | LOG_MARK | LOG_METADATA;

export const WRITE_LOG_MAGIC = 0x6a736677736872n;
export const WRITE_LOG_VERSION = 1n;
/** The mark the target writes when it is removed: a log without it may have lost its tail. */
export const END_MARK = 'dm-log-writes-end';
const HEADER_BYTES = 32;

export interface LogEntry {
  /** position in the log, from 0 */
  index: number;
  /** first byte written on the logged device */
  offset: number;
  /** bytes written (0 for a flush without data and for a mark); for a discard, bytes discarded */
  length: number;
  flags: number;
  /** the mark's text, for LOG_MARK entries */
  mark?: string;
  /** byte offset of the written data in the log (meaningless for discards and marks) */
  dataOffset: number;
}

export interface WriteLog {
  sectorSize: number;
  entries: LogEntry[];
}

export const isFlush = (e: LogEntry) => (e.flags & LOG_FLUSH) !== 0;
export const isFua = (e: LogEntry) => (e.flags & LOG_FUA) !== 0;
export const isMark = (e: LogEntry) => (e.flags & LOG_MARK) !== 0;
export const isDiscard = (e: LogEntry) => (e.flags & LOG_DISCARD) !== 0;
/** An entry that changes the device's bytes. */
export const writesData = (e: LogEntry) => !isMark(e) && e.length > 0;

function u64(buf: Buffer, at: number, what: string, source: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModelInputError(`${what} ${v} is too large`, { source });
  return Number(v);
}

/** Parses the super and every entry header; the data stays in the log and is read by `entryData`. */
export function parseWriteLog(log: ImageSource): WriteLog {
  const src = log.name;
  if (log.length < 512) throw new ModelInputError(`a dm-log-writes log is at least one sector, this one is ${log.length} bytes`, { source: src });
  const sup = log.read(0, HEADER_BYTES + 4);
  const magic = sup.readBigUInt64LE(0);
  if (magic !== WRITE_LOG_MAGIC) {
    throw new ModelInputError(`not a dm-log-writes log: magic 0x${magic.toString(16)}, expected 0x${WRITE_LOG_MAGIC.toString(16)}`, { source: src });
  }
  const version = sup.readBigUInt64LE(8);
  if (version !== WRITE_LOG_VERSION) throw new ModelInputError(`dm-log-writes log version ${version}, this reader knows ${WRITE_LOG_VERSION}`, { source: src });
  const count = u64(sup, 16, 'nr_entries', src);
  const sectorSize = sup.readUInt32LE(24);
  if (![512, 1024, 2048, 4096].includes(sectorSize)) throw new ModelInputError(`sectorsize ${sectorSize} is not 512, 1024, 2048 or 4096`, { source: src });

  const entries: LogEntry[] = [];
  let pos = sectorSize;
  for (let index = 0; index < count; index++) {
    const at = `entry ${index} (log byte ${pos})`;
    if (pos + sectorSize > log.length) {
      throw new ModelInputError(`${at}: the super says ${count} entries but the log ends after ${index}`, { source: src });
    }
    const h = log.read(pos, sectorSize);
    const sector = u64(h, 0, `${at}: sector`, src);
    const nrSectors = u64(h, 8, `${at}: nr_sectors`, src);
    const flags = u64(h, 16, `${at}: flags`, src);
    const dataLen = u64(h, 24, `${at}: data_len`, src);
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new ModelInputError(`${at}: unknown flags 0x${flags.toString(16)}`, { source: src });
    const entry: LogEntry = { index, offset: sector * sectorSize, length: nrSectors * sectorSize, flags, dataOffset: pos + sectorSize };
    if (flags & LOG_MARK) {
      if (dataLen > sectorSize - HEADER_BYTES) throw new ModelInputError(`${at}: mark of ${dataLen} bytes does not fit its sector`, { source: src });
      entry.mark = h.subarray(HEADER_BYTES, HEADER_BYTES + dataLen).toString('utf8');
    }
    pos += sectorSize;
    if (!(flags & LOG_DISCARD) && !(flags & LOG_MARK)) pos += entry.length;
    if (pos > log.length) throw new ModelInputError(`${at}: its ${entry.length} data bytes run past the end of the log`, { source: src });
    entries.push(entry);
  }
  return { sectorSize, entries };
}

/** The bytes a write entry put on the device. */
export function entryData(log: ImageSource, e: LogEntry): Buffer {
  return log.read(e.dataOffset, e.length);
}

/** Builds a log in the target's format: for tests, and to show the format in one place. */
export function encodeWriteLog(sectorSize: number, entries: Array<{ offset: number; flags?: number; data?: Buffer; length?: number; mark?: string }>): Buffer {
  const parts: Buffer[] = [];
  const sup = Buffer.alloc(sectorSize);
  sup.writeBigUInt64LE(WRITE_LOG_MAGIC, 0);
  sup.writeBigUInt64LE(WRITE_LOG_VERSION, 8);
  sup.writeBigUInt64LE(BigInt(entries.length), 16);
  sup.writeUInt32LE(sectorSize, 24);
  parts.push(sup);
  for (const e of entries) {
    const flags = (e.flags ?? 0) | (e.mark !== undefined ? LOG_MARK : 0);
    const length = e.data?.length ?? e.length ?? 0;
    if (length % sectorSize !== 0 || e.offset % sectorSize !== 0) throw new RangeError(`entry at ${e.offset}+${length} is not in whole ${sectorSize}-byte sectors`);
    const h = Buffer.alloc(sectorSize);
    h.writeBigUInt64LE(BigInt(e.offset / sectorSize), 0);
    h.writeBigUInt64LE(BigInt(length / sectorSize), 8);
    h.writeBigUInt64LE(BigInt(flags), 16);
    const mark = e.mark !== undefined ? Buffer.from(e.mark, 'utf8') : Buffer.alloc(0);
    h.writeBigUInt64LE(BigInt(mark.length), 24);
    mark.copy(h, HEADER_BYTES);
    parts.push(h);
    if (e.data && !(flags & LOG_DISCARD)) parts.push(e.data);
  }
  return Buffer.concat(parts);
}
