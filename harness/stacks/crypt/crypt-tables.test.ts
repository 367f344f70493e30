import { describe, expect, it } from 'vitest';
import { integrityHelper, shownCryptOptions } from './crypt-tables.ts';
import { parseIntegrityPlaceholder } from './integrity-placeholder.ts';
import { planIntegrityFormat } from '../../model/integrity/format.ts';

describe('crypt tables: lower devices and what the kernel shows back', () => {
  it('makes a dm-integrity helper without an internal hash (a profile of its tag size) or with one (no profile)', () => {
    const p = parseIntegrityPlaceholder('integrity:i28k:28:4096')!;
    expect(p).toEqual({ disk: 'i28k', tag: 28, block: 4096, hash: undefined });
    const provided = planIntegrityFormat({ deviceSectors: 8192, tagSize: 28, sectorsPerBlock: 8, fixPadding: true }).providedDataSectors;
    const h = integrityHelper(p, '/dev/vdc', 4 << 20);
    expect(h.table).toBe(`0 ${provided} integrity /dev/vdc 0 28 D 2 block_size:4096 fix_padding\n`);
    expect(h.lower).toEqual({ sectors: provided, profile: { dmIntegrity: true, checksum: false, tupleSize: 28, tagSize: 28, intervalBytes: 4096 } });
    const hashed = integrityHelper(parseIntegrityPlaceholder('integrity:h:4:512:crc32c')!, '/dev/vdd', 2 << 20);
    expect(hashed.table).toMatch(/ 4 D 2 fix_padding internal_hash:crc32c\n$/);
    expect(hashed.lower.profile).toBeUndefined();
    expect(parseIntegrityPlaceholder('integrity:x')).toBeUndefined();
  });

  it('reads the integrity argument and sector size crypt_status() shows', () => {
    expect(shownCryptOptions('0 16 crypt capi:gcm(aes)-random 00 0 253:3 0 2 integrity:28:aead sector_size:4096\n')).toEqual({ integrity: 'integrity:28:aead', sectorSize: 4096 });
    expect(shownCryptOptions('0 8 crypt aes-xts-plain64 00 0 254:0 0\n')).toEqual({ integrity: undefined, sectorSize: 512 });
  });
});
