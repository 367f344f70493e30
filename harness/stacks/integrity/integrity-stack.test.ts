import { describe, expect, it } from 'vitest';
import { delayTable, integrityFormatArgv, integrityOpenArgv, integrityTableArgs, lowerTable, mergeRanges, openMode, parseIntegrityStatus } from './integrity-stack.ts';
import { integrityStackSchema } from './integrity-schema.ts';

describe('integrity stack argv', () => {
  it('spells a raw-table stack as the kernel table: data device first, meta_device and the tunables as options, extras last', () => {
    const s = integrityStackSchema.parse({
      type: 'integrity', disk: 'data', metaDisk: 'meta', hash: 'hmac-sha256', key: '0011', mode: 'bitmap', sectorSize: 4096,
      bitmapSectorsPerBit: 8, bitmapFlushTime: 100, allowDiscards: true, journalIntegrity: { alg: 'hmac-sha256', key: '22' },
      journalCrypt: { alg: 'ctr-aes', key: '00'.repeat(16) }, table: { options: ['fix_hmac'] },
    });
    expect(integrityTableArgs(s, { data: '/dev/vda', meta: '/dev/vdb' })).toBe(
      '/dev/vda 0 32 B 9 internal_hash:hmac(sha256):0011 block_size:4096 meta_device:/dev/vdb sectors_per_bit:8 bitmap_flush_interval:100 '
      + `allow_discards journal_mac:hmac(sha256):22 journal_crypt:ctr(aes):${'00'.repeat(16)} fix_hmac`);
    const plain = integrityStackSchema.parse({ type: 'integrity', disk: 'data', mode: 'direct', tagSize: 6, table: {} });
    expect(integrityTableArgs(plain, { data: '/dev/vda' })).toBe('/dev/vda 0 6 D 1 internal_hash:crc32c');
  });

  it('puts the metadata device first and the data device behind --data-device', () => {
    const s = integrityStackSchema.parse({ type: 'integrity', disk: 'data', metaDisk: 'meta', mode: 'bitmap', allowDiscards: true, sectorSize: 4096 });
    expect(integrityFormatArgv(s, { data: '/dev/vda', meta: '/dev/vdb' })).toEqual(['integritysetup', 'format', '--batch-mode', '/dev/vdb', '--data-device', '/dev/vda', '--integrity', 'crc32c', '--sector-size', '4096']);
    expect(integrityOpenArgv(s, { data: '/dev/vda', meta: '/dev/vdb' }, 'x')).toEqual(['integritysetup', 'open', '/dev/vdb', 'x', '--data-device', '/dev/vda', '--integrity', 'crc32c', '--integrity-bitmap-mode', '--allow-discards']);
  });

  it('asks for a recalculation, or one that starts over at every open (reset_recalculate), in the tool and in a raw table', () => {
    const s = integrityStackSchema.parse({ type: 'integrity', disk: 'data', mode: 'journal', recalculate: 'reset' });
    expect(integrityOpenArgv(s, { data: '/dev/vda' }, 'x')).toEqual(['integritysetup', 'open', '/dev/vda', 'x', '--integrity', 'crc32c', '--integrity-recalculate-reset']);
    expect(integrityTableArgs({ ...s, table: {} } as typeof s, { data: '/dev/vda' })).toBe('/dev/vda 0 4 J 3 internal_hash:crc32c recalculate reset_recalculate');
    expect(integrityOpenArgv({ ...s, recalculate: true }, { data: '/dev/vda' }, 'x')).toContain('--integrity-recalculate');
    expect(() => integrityStackSchema.parse({ type: 'integrity', disk: 'data', recalculate: 'again' })).toThrow();
  });

  it('opens in recovery mode with --integrity-recovery-mode alone, whatever mode the stack has (table mode R)', () => {
    const s = integrityStackSchema.parse({ type: 'integrity', disk: 'data', mode: 'bitmap' });
    expect(integrityOpenArgv({ ...s, mode: 'recovery' }, { data: '/dev/vda' }, 'x')).toEqual(['integritysetup', 'open', '/dev/vda', 'x', '--integrity', 'crc32c', '--integrity-recovery-mode']);
    expect(integrityTableArgs({ ...s, mode: 'recovery' }, { data: '/dev/vda' })).toBe('/dev/vda 0 4 R 1 internal_hash:crc32c');
  });

  it('opens a plain open after a recovery open in the mode before it, and keeps any other mode named', () => {
    expect(openMode('bitmap', 'recovery')).toEqual({ mode: 'recovery', settled: 'bitmap' });
    expect(openMode('bitmap', undefined)).toEqual({ mode: 'bitmap', settled: 'bitmap' });
    expect(openMode('bitmap', 'direct')).toEqual({ mode: 'direct', settled: 'direct' });
  });

  it('gives the tag size, journal size and wipe to format, the tunables to open', () => {
    const s = integrityStackSchema.parse({
      type: 'integrity', disk: 'data', hash: 'hmac-sha1', key: '00', tagSize: 6, journalSize: '256KiB', noWipe: true,
      journalWatermark: 10, journalCommitTime: 100, bufferSectors: 16,
    });
    expect(integrityFormatArgv(s, { data: '/dev/vda' })).toEqual(['integritysetup', 'format', '--batch-mode', '/dev/vda',
      '--integrity', 'hmac-sha1', '--integrity-key-file', '/tmp/ih-integrity.key', '--integrity-key-size', '1', '--sector-size', '512',
      '--tag-size', '6', '--journal-size', '262144', '--no-wipe']);
    expect(integrityOpenArgv(s, { data: '/dev/vda' }, 'x')).toEqual(['integritysetup', 'open', '/dev/vda', 'x',
      '--integrity', 'hmac-sha1', '--integrity-key-file', '/tmp/ih-integrity.key', '--integrity-key-size', '1',
      '--journal-watermark', '10', '--journal-commit-time', '100', '--buffer-sectors', '16']);
  });

  it('builds a dm-linear table with dm-error holes', () => {
    expect(lowerTable('/dev/vda', 100)).toBe('0 100 linear /dev/vda 0\n');
    expect(lowerTable('/dev/vda', 100, [{ start: 10, length: 8 }, { start: 92, length: 8 }])).toBe('0 10 linear /dev/vda 0\n10 8 error\n18 74 linear /dev/vda 18\n92 8 error\n');
    expect(() => lowerTable('/dev/vda', 100, [{ start: 96, length: 8 }])).toThrow(/leaves/);
    expect(delayTable('/dev/vda', 100, { read: 2, write: 7, flush: 0 })).toBe('0 100 delay /dev/vda 0 2 /dev/vda 0 7 /dev/vda 0 0\n');
    expect(mergeRanges([{ start: 8, length: 8 }, { start: 0, length: 8 }, { start: 24, length: 8 }])).toEqual([{ start: 0, length: 16 }, { start: 24, length: 8 }]);
  });

  it('reads dmsetup status', () => {
    expect(parseIntegrityStatus('0 126976 integrity 3 126976 -\n')).toEqual({ mismatches: 3, providedDataSectors: 126976, recalcSector: '-' });
  });
});
