import { describe, expect, it } from 'vitest';
import { expectActivation, maxSuperblockVersion, parseIntegrityTable } from './activation.ts';
import { encodeIntegritySuperblock, SB_BYTES } from './superblock.ts';

const sb = () => encodeIntegritySuperblock({
  version: 5, log2InterleaveSectors: 15, tagSize: 4, journalSections: 7, providedDataSectors: 120000, flags: 0x18,
  log2SectorsPerBlock: 0, log2BlocksPerBitmapBit: 0, recalcSector: 0, salt: Buffer.alloc(16, 1),
});
const table = { tagSize: 4, sectorsPerBlock: 1, metaDevice: false, journalMac: false, maxVersion: 5 };
const flip = (b: Buffer, at: number) => { b[at]! ^= 0xff; return b; };

describe('expectActivation', () => {
  it('accepts the superblock the table was made for, and an all-zero area (the kernel formats it)', () => {
    expect(expectActivation(sb(), table)).toEqual({ ok: true });
    expect(expectActivation(Buffer.alloc(SB_BYTES), table)).toEqual({ ok: true });
  });

  it('refuses each corrupted field with the kernel error string', () => {
    expect(expectActivation(flip(sb(), 0), table)).toEqual({ ok: false, error: 'The device is not initialized' });
    expect(expectActivation(flip(sb(), 8), table)).toEqual({ ok: false, error: 'Unknown version' });
    expect(expectActivation(flip(sb(), 9), table)).toEqual({ ok: false, error: 'Invalid interleave_sectors in the superblock' });
    expect(expectActivation(flip(sb(), 10), table)).toEqual({ ok: false, error: "Tag size doesn't match the information in superblock" });
    expect(expectActivation(sb(), { ...table, sectorsPerBlock: 8 })).toMatchObject({ ok: false, error: /Block size/ });
    expect(expectActivation(sb(), { ...table, metaDevice: true })).toMatchObject({ ok: false, error: /interleave/ });
  });

  it('knows the version limit per kernel', () => {
    expect(maxSuperblockVersion([6, 1, 192])).toBe(5);
    expect(maxSuperblockVersion([6, 12])).toBe(6);
  });

  it('reads the table parameters back', () => {
    expect(parseIntegrityTable('0 126976 integrity 254:0 0 4 J 7 journal_sectors:3104 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:crc32c fix_padding fix_hmac'))
      .toEqual({ tagSize: 4, mode: 'J', sectorsPerBlock: 1, metaDevice: false, journalMac: false });
    expect(parseIntegrityTable('0 8 integrity 254:0 0 32 B 3 meta_device:254:1 block_size:4096 internal_hash:sha256'))
      .toMatchObject({ tagSize: 32, mode: 'B', sectorsPerBlock: 8, metaDevice: true });
    expect(parseIntegrityTable('0 8 linear 254:0 0')).toBeUndefined();
  });
});
