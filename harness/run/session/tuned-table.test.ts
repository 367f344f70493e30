import { describe, expect, it } from 'vitest';
import { UsageError } from '../../errors.ts';
import { tunedTable } from './tuned-table.ts';

describe('tunedTable', () => {
  it('moves a journal-mode integrity table\'s watermark and commit time, and moves them again', () => {
    const t = '0 126976 integrity 254:0 0 4 J 7 journal_sectors:3104 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:crc32c fix_padding';
    const tuned = tunedTable(t);
    expect(tuned).toBe('0 126976 integrity 254:0 0 4 J 7 journal_sectors:3104 interleave_sectors:32768 buffer_sectors:128 journal_watermark:10 commit_time:200 internal_hash:crc32c fix_padding');
    expect(tunedTable(tuned)).toBe(t.replace('journal_watermark:50', 'journal_watermark:80'));
  });

  it('adds a bitmap flush interval a bitmap-mode table does not name, counting it', () => {
    expect(tunedTable('0 8 integrity 254:0 0 32 B 2 meta_device:254:1 internal_hash:sha256'))
      .toBe('0 8 integrity 254:0 0 32 B 3 meta_device:254:1 internal_hash:sha256 bitmap_flush_interval:200');
  });

  it('toggles same_cpu_crypt in a crypt table', () => {
    const t = '0 2048 crypt capi:gcm(aes)-random 00112233 0 254:1 0 2 integrity:28:aead sector_size:4096';
    expect(tunedTable(t)).toBe('0 2048 crypt capi:gcm(aes)-random 00112233 0 254:1 0 3 integrity:28:aead sector_size:4096 same_cpu_crypt');
    expect(tunedTable(tunedTable(t))).toBe(t);
  });

  it('refuses a table it has no tunable for', () => {
    expect(() => tunedTable('0 8 linear 254:0 0')).toThrow(UsageError);
    expect(() => tunedTable('0 8 integrity 254:0 0 4 J 1\n8 8 linear 254:0 0')).toThrow(UsageError);
  });
});
