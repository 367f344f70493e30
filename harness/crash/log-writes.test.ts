import { describe, expect, it } from 'vitest';
import { openImage } from '../model/image-source.ts';
import { encodeWriteLog, END_MARK, entryData, LOG_DISCARD, LOG_FLUSH, LOG_FUA, parseWriteLog, WRITE_LOG_MAGIC } from './log-writes.ts';

const fill = (n: number, byte: number) => Buffer.alloc(n, byte);

describe('parseWriteLog', () => {
  it('reads super, writes, flushes, FUA writes, discards and marks back', () => {
    const log = encodeWriteLog(512, [
      { offset: 0, mark: 'ih-start' },
      { offset: 4096, data: fill(1024, 1) },
      { offset: 0, flags: LOG_FLUSH },
      { offset: 512, data: fill(512, 2), flags: LOG_FUA },
      { offset: 8192, length: 2048, flags: LOG_DISCARD },
      { offset: 1024, data: fill(512, 3) },
      { offset: 0, mark: END_MARK },
    ]);
    const src = openImage(log, 'synthetic');
    const w = parseWriteLog(src);
    expect(w.sectorSize).toBe(512);
    expect(w.entries.map((e) => [e.offset, e.length, e.flags, e.mark])).toEqual([
      [0, 0, 8, 'ih-start'], [4096, 1024, 0, undefined], [0, 0, 1, undefined], [512, 512, 2, undefined],
      [8192, 2048, 4, undefined], [1024, 512, 0, undefined], [0, 0, 8, END_MARK],
    ]);
    expect(entryData(src, w.entries[1]!)).toEqual(fill(1024, 1));
    // A discard carries no data in the log: the next entry's data follows its header directly.
    expect(entryData(src, w.entries[5]!)).toEqual(fill(512, 3));
  });

  it('honours a 4096-byte sectorsize: offsets and lengths count in its units', () => {
    const w = parseWriteLog(openImage(encodeWriteLog(4096, [{ offset: 8192, data: fill(4096, 7) }]), 'synthetic'));
    expect(w.entries[0]).toMatchObject({ offset: 8192, length: 4096, dataOffset: 8192 });
  });

  it('rejects what is not a log, names the log, and notices a truncated one', () => {
    expect(() => parseWriteLog(openImage(Buffer.alloc(4096), 'zeros.img'))).toThrow(/zeros\.img: not a dm-log-writes log: magic 0x0/);
    const log = encodeWriteLog(512, [{ offset: 0, data: fill(4096, 1) }]);
    expect(() => parseWriteLog(openImage(log.subarray(0, 2048), 'cut.img'))).toThrow(/entry 0 .*run past the end/);
    const lying = Buffer.from(log);
    lying.writeBigUInt64LE(5n, 16);
    expect(() => parseWriteLog(openImage(lying, 'lying.img'))).toThrow(/says 5 entries but the log ends after 1/);
    const badFlags = Buffer.from(log);
    badFlags.writeBigUInt64LE(0x100n, 512 + 16);
    expect(() => parseWriteLog(openImage(badFlags, 'flags.img'))).toThrow(/unknown flags 0x100/);
    const v2 = Buffer.from(log);
    v2.writeBigUInt64LE(WRITE_LOG_MAGIC, 0);
    v2.writeBigUInt64LE(2n, 8);
    expect(() => parseWriteLog(openImage(v2, 'v2.img'))).toThrow(/version 2/);
  });
});
