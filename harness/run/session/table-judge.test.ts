import { describe, expect, it } from 'vitest';
import { judgeShownCryptTable, judgeShownTable, judgeTableLeftover, judgeTableLoad, judgeTableMode, judgeTableSize } from './table-judge.ts';

// `dmsetup table ih-int` after `integritysetup open --integrity-bitmap-mode` (Debian 6.1)
const BITMAP = '0 126912 integrity 254:0 0 4 B 8 block_size:512 sectors_per_bit:8192 bitmap_flush_interval:10000 buffer_sectors:128 interleave_sectors:32768 journal_sectors:1024 internal_hash:crc32c fix_padding\n';

describe('judgeTableMode', () => {
  it('agrees when the live table has the mode the open asked for', () => {
    expect(judgeTableMode(4, BITMAP, { letter: 'B', mode: 'bitmap' })).toEqual([]);
  });

  it('finds a doctored table: journal mode where the open asked for bitmap, and a line that is no integrity table', () => {
    expect(judgeTableMode(4, BITMAP.replace(' B 8 ', ' J 8 '), { letter: 'B', mode: 'bitmap' })).toEqual([
      { step: 4, kind: 'open-mode', expected: 'table mode B (bitmap)', found: 'mode J' },
    ]);
    expect(judgeTableMode(4, '0 126912 linear 254:0 0\n', { letter: 'R', mode: 'recovery' })).toEqual([
      { step: 4, kind: 'open-mode', expected: 'table mode R (recovery)', found: "'0 126912 linear 254:0 0'" },
    ]);
  });
});

describe('judgeShownTable', () => {
  it('agrees with the mode and tag size the ctr model says, and finds a doctored table with another tag size', () => {
    expect(judgeShownTable(2, BITMAP, { mode: 'B', tagSize: 4 })).toEqual([]);
    expect(judgeShownTable(2, BITMAP.replace(' 4 B 8 ', ' 8 B 8 '), { mode: 'B', tagSize: 4 })).toEqual([
      { step: 2, kind: 'table-shown', expected: 'mode B, tag size 4', found: 'mode B, tag size 8' },
    ]);
  });
});

describe('judgeShownCryptTable', () => {
  const GCM = '0 16 crypt capi:gcm(aes)-random 00 0 253:3 0 2 integrity:28:aead sector_size:4096\n';
  it('agrees with the integrity argument and sector size the model says, and finds a doctored table without them', () => {
    expect(judgeShownCryptTable(3, GCM, { tagSize: 28, aead: true, sectorSize: 4096 })).toEqual([]);
    expect(judgeShownCryptTable(3, GCM.replace(' 2 integrity:28:aead sector_size:4096', ''), { tagSize: 28, aead: true, sectorSize: 4096 })).toEqual([
      { step: 3, kind: 'table-shown', expected: 'integrity:28:aead, sector_size 4096', found: 'no integrity, sector_size 512' },
    ]);
  });
});


describe('judgeTableLoad', () => {
  const TABLE = '0 8 integrity /dev/vdb 0 4 J 1 allow_discards';
  const REFUSED = { ok: false, error: 'Discard can be only used with internal hash', at: 'dm_integrity_ctr' } as const;
  it('agrees with a refused table that failed to load and an accepted one that loaded', () => {
    expect(judgeTableLoad(5, TABLE, REFUSED, 1)).toEqual([]);
    expect(judgeTableLoad(5, TABLE, { ok: true }, 0)).toEqual([]);
  });

  it('finds a doctored exit status: a refused table that loaded, an accepted one that failed', () => {
    expect(judgeTableLoad(5, TABLE, REFUSED, 0)).toEqual([
      { step: 5, kind: 'table-accepted', expected: 'refused: Discard can be only used with internal hash (at dm_integrity_ctr)', found: `the kernel accepted '${TABLE}'` },
    ]);
    expect(judgeTableLoad(5, TABLE, { ok: true }, 1)).toEqual([
      { step: 5, kind: 'table-refused', expected: 'the kernel accepts the table (model)', found: `dmsetup create failed for '${TABLE}'` },
    ]);
  });
});

describe('judgeTableLeftover', () => {
  it('agrees when dmsetup info finds no device, and finds one a refused table left', () => {
    expect(judgeTableLeftover(5, 'the refused tables', 'ih-try', false)).toEqual([]);
    expect(judgeTableLeftover(5, 'the refused tables', 'ih-try', true)).toEqual([
      { step: 5, kind: 'table-leftover', expected: 'no device after the refused tables', found: 'ih-try exists' },
    ]);
  });
});

describe('judgeTableSize', () => {
  // `dmsetup status ih-try` of an accepted raw table (Debian 6.1)
  const STATUS = '0 126912 integrity 0 126912 -\n';
  it('agrees with the provided data sectors the ctr model says, and finds a doctored size or a line that is no status', () => {
    expect(judgeTableSize(5, STATUS, { providedDataSectors: 126912 })).toEqual([]);
    expect(judgeTableSize(5, STATUS.replace('0 126912 -', '0 126904 -'), { providedDataSectors: 126912 })).toEqual([
      { step: 5, kind: 'table-size', expected: '126912 provided data sectors', found: '126904' },
    ]);
    expect(judgeTableSize(5, '0 126912 linear\n', { providedDataSectors: 126912 })).toEqual([
      { step: 5, kind: 'table-size', expected: '126912 provided data sectors', found: 'undefined' },
    ]);
  });
});
