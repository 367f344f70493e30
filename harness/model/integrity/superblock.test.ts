import { describe, expect, it } from 'vitest';
import { ModelInputError } from '../errors.ts';
import {
  encodeIntegritySuperblock,
  parseIntegritySuperblock,
  SB_FLAG,
  superblockVersionProblems,
  type IntegritySuperblockFields,
} from './superblock.ts';

const base: IntegritySuperblockFields = {
  version: 5,
  log2InterleaveSectors: 15,
  tagSize: 4,
  journalSections: 11,
  providedDataSectors: 123456,
  flags: SB_FLAG.FIXED_PADDING | SB_FLAG.FIXED_HMAC,
  log2SectorsPerBlock: 0,
  log2BlocksPerBitmapBit: 15,
  recalcSector: 0,
  salt: Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex'),
};

describe('parseIntegritySuperblock', () => {
  it('round-trips every field at the documented offsets', () => {
    const buf = encodeIntegritySuperblock(base);
    expect(buf.subarray(0, 8).toString('latin1')).toBe('integrt\0');
    expect(buf[8]).toBe(5);
    expect(buf.readUInt16LE(10)).toBe(4);
    expect(buf.readUInt32LE(12)).toBe(11);
    expect(buf.readBigUInt64LE(16)).toBe(123456n);
    expect(buf.readUInt32LE(24)).toBe(0x18);
    expect(buf.subarray(48, 64).toString('hex')).toBe('000102030405060708090a0b0c0d0e0f');
    const sb = parseIntegritySuperblock(buf);
    expect(sb).toMatchObject({ ...base, magicOk: true, fixedPadding: true, fixedHmac: true, inline: false, haveJournalMac: false });
    expect(superblockVersionProblems(sb)).toEqual([]);
  });

  it('names the source on a wrong magic', () => {
    const buf = encodeIntegritySuperblock(base);
    buf.write('LUKS', 0, 'latin1');
    expect(() => parseIntegritySuperblock(buf, 'disk.img')).toThrow(ModelInputError);
    expect(() => parseIntegritySuperblock(buf, 'disk.img')).toThrow(/^disk\.img: not a dm-integrity superblock/);
  });

  it('rejects unknown versions, zero journal, bad tag size, unknown flags, short buffers', () => {
    const cases: Array<[(b: Buffer) => void, RegExp]> = [
      [(b) => (b[8] = 7), /unknown version 7/],
      [(b) => (b[8] = 0), /unknown version 0/],
      [(b) => b.writeUInt32LE(0, 12), /journal_sections is 0/],
      [(b) => b.writeUInt16LE(0, 10), /integrity_tag_size 0/],
      [(b) => b.writeUInt16LE(425, 10), /integrity_tag_size 425/],
      [(b) => b.writeUInt32LE(0x40, 24), /unknown flag bits 0x40/],
      [(b) => (b[28] = 4), /log2_sectors_per_block 4/],
      [(b) => (b[9] = 2), /log2_interleave_sectors 2/],
      [(b) => b.writeBigUInt64LE(0n, 16), /provided_data_sectors is 0/],
    ];
    for (const [mutate, msg] of cases) {
      const buf = encodeIntegritySuperblock(base);
      mutate(buf);
      expect(() => parseIntegritySuperblock(buf, 'x')).toThrow(msg);
    }
    expect(() => parseIntegritySuperblock(Buffer.alloc(10), 'tiny.img')).toThrow(/tiny\.img: image too short/);
  });

  it('flags a version that sb_set_version() could not have written', () => {
    const sb = parseIntegritySuperblock(encodeIntegritySuperblock({ ...base, version: 4 }));
    expect(superblockVersionProblems(sb)[0]).toMatch(/imply version 5/);
    const v1 = parseIntegritySuperblock(encodeIntegritySuperblock({ ...base, version: 1, flags: SB_FLAG.DIRTY_BITMAP }));
    expect(superblockVersionProblems(v1)[0]).toMatch(/imply version 3/);
  });
});
