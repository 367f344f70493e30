import { createHash, createHmac } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { xxhash64 } from './xxhash64.ts';
import { digestSize, integrityTag, kernelCrc32, parseIntegrityHash } from './tags.ts';

/** Bit-at-a-time reflected CRC-32 register update (polynomial 0xEDB88320), no inversion: lib/crc32 crc32_le(). */
function crc32LeBitwise(seed: number, data: Uint8Array): number {
  let crc = seed >>> 0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return crc >>> 0;
}

const check = Buffer.from('123456789');
const le64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

describe('checksum primitives', () => {
  it('CRC-32C check value of "123456789" is 0xE3069283', () => {
    expect(crc32c(check)).toBe(0xe3069283);
  });
  it('kernel crc32 is crc32_le seeded with 0, no final xor', () => {
    expect(kernelCrc32(check)).toBe(crc32LeBitwise(0, check));
    // seeded with ~0 and still no final xor it is CRC-32/JAMCRC, whose catalogue check value is 0x340BC6D9
    expect(kernelCrc32(check, 0xffffffff)).toBe(0x340bc6d9);
    expect(kernelCrc32(check)).not.toBe(0xcbf43926); // not zlib's CRC-32
  });
  it('node crypto matches the FIPS 180 and RFC 4231 vectors', () => {
    expect(createHash('sha1').update('abc').digest('hex')).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(createHash('sha256').update('abc').digest('hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });
});

describe('integrityTag', () => {
  const data = Buffer.alloc(512, 0x5a);
  const salt = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

  it('crc32c: le32 of crc32c(le64(sector) || data), salted only when asked', () => {
    const unsalted = integrityTag({ hash: 'crc32c', logicalSector: 24, data, tagSize: 4 });
    expect(unsalted.readUInt32LE(0)).toBe(crc32c(Buffer.concat([le64(24), data])));
    const salted = integrityTag({ hash: 'crc32c', salt, logicalSector: 24, data, tagSize: 4 });
    expect(salted.readUInt32LE(0)).toBe(crc32c(Buffer.concat([salt, le64(24), data])));
  });

  it('crc32: the kernel flavour over the same message', () => {
    const t = integrityTag({ hash: 'crc32', logicalSector: 7, data, tagSize: 4 });
    expect(t.readUInt32LE(0)).toBe(crc32LeBitwise(0, Buffer.concat([le64(7), data])));
  });

  it('pads short digests with zeros and truncates long ones', () => {
    const t8 = integrityTag({ hash: 'crc32c', logicalSector: 0, data, tagSize: 8 });
    expect(t8.subarray(4).equals(Buffer.alloc(4))).toBe(true);
    const t2 = integrityTag({ hash: 'crc32c', logicalSector: 0, data, tagSize: 2 });
    expect(t2.equals(t8.subarray(0, 2))).toBe(true);
    const sha = createHash('sha256').update(Buffer.concat([le64(9), data])).digest();
    expect(integrityTag({ hash: 'sha256', logicalSector: 9, data, tagSize: 16 }).equals(sha.subarray(0, 16))).toBe(true);
    const s40 = integrityTag({ hash: 'sha256', logicalSector: 9, data, tagSize: 40 });
    expect(s40.subarray(0, 32).equals(sha) && s40.subarray(32).equals(Buffer.alloc(8))).toBe(true);
  });

  it('sha1 and hmac-sha256 (key from internal_hash:hmac(sha256):<hex>), salted', () => {
    const sha1 = createHash('sha1').update(Buffer.concat([salt, le64(3), data])).digest();
    expect(integrityTag({ hash: 'sha1', salt, logicalSector: 3, data, tagSize: 20 }).equals(sha1)).toBe(true);
    const key = Buffer.from('0102030405060708', 'hex');
    const mac = createHmac('sha256', key).update(Buffer.concat([salt, le64(3), data])).digest();
    expect(integrityTag({ hash: 'hmac-sha256', key, salt, logicalSector: 3, data, tagSize: 32 }).equals(mac)).toBe(true);
  });

  it('refuses hmac without a key, and keys for unkeyed hashes', () => {
    expect(() => integrityTag({ hash: 'hmac-sha256', logicalSector: 0, data, tagSize: 32 })).toThrow(/needs a key/);
    expect(() => integrityTag({ hash: 'crc32c', key: Buffer.alloc(4), logicalSector: 0, data, tagSize: 4 })).toThrow(/key/);
  });

  it('parses kernel hash names', () => {
    expect(parseIntegrityHash('hmac(sha256)')).toBe('hmac-sha256');
    expect(() => parseIntegrityHash('md5', '--hash')).toThrow(/--hash: unknown integrity hash "md5"/);
  });
});

describe('keyed and wide hashes, truncated or padded to the tag size', () => {
  const data = Buffer.alloc(4096, 0x5a);
  const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  it('hmac(sha1) and hmac(sha512) key H(le64(sector) || data), truncated to a tag size that is not a power of two', () => {
    for (const [hash, inner] of [['hmac-sha1', 'sha1'], ['hmac-sha512', 'sha512']] as const) {
      const want = createHmac(inner, key).update(le64(77)).update(data).digest().subarray(0, 6);
      expect(integrityTag({ hash, key, tagSize: 6, logicalSector: 77, data })).toEqual(want);
    }
  });
  it('sha512 fills a 64-byte tag; a crc32 in an 8-byte tag is followed by four zero bytes', () => {
    expect(integrityTag({ hash: 'sha512', tagSize: 64, logicalSector: 8, data })).toEqual(createHash('sha512').update(le64(8)).update(data).digest());
    const t = integrityTag({ hash: 'crc32', tagSize: 8, logicalSector: 8, data });
    expect(t.readUInt32LE(0)).toBe(kernelCrc32(data, kernelCrc32(le64(8))));
    expect([...t.subarray(4)]).toEqual([0, 0, 0, 0]);
  });
  it('knows the kernel names of the keyed hashes and refuses a keyed hash without a key', () => {
    expect(parseIntegrityHash('hmac(sha512)')).toBe('hmac-sha512');
    expect(parseIntegrityHash('hmac(sha1)')).toBe('hmac-sha1');
    expect(() => integrityTag({ hash: 'hmac-sha1', tagSize: 20, logicalSector: 0, data })).toThrow(/hmac-sha1 needs a key/);
  });
});

describe('blake2b-N and xxhash64 tags', () => {
  const data = Buffer.alloc(512, 0x5a);
  const salt = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  // Python's hashlib.blake2b(salt? + le64(sector) + data, digest_size=n) produced these
  it('blake2b-256 hashes [salt ||] le64(sector) || data with a 32-byte digest', () => {
    expect(integrityTag({ hash: 'blake2b-256', logicalSector: 24, data, tagSize: 32 }).toString('hex')).toBe(
      '5de766f76b844d1f530ae5a95980ec755e6ab700fec84c06fbd8740153cbc416',
    );
    expect(integrityTag({ hash: 'blake2b-256', salt, logicalSector: 24, data, tagSize: 32 }).toString('hex')).toBe(
      '3bcee04e1a05114a61a7cb0d54e24358616dd6d26b3d1f0b9faf777a34deb889',
    );
  });
  it('blake2b-160 of a sector number above 2^32, truncated to 6 bytes', () => {
    expect(integrityTag({ hash: 'blake2b-160', logicalSector: 2 ** 33 + 5, data, tagSize: 6 }).toString('hex')).toBe('3598e88511a2');
  });
  it('xxhash64: le64 of XXH64(le64(sector) || data), zero-padded to a 12-byte tag', () => {
    const t = integrityTag({ hash: 'xxhash64', logicalSector: 7, data, tagSize: 12 });
    expect(t.subarray(0, 8)).toEqual(xxhash64([Buffer.concat([le64(7), data])]));
    expect([...t.subarray(8)]).toEqual([0, 0, 0, 0]);
  });
  it('digest sizes and kernel names', () => {
    expect(['blake2b-160', 'blake2b-256', 'blake2b-384', 'blake2b-512', 'xxhash64'].map((h) => digestSize(parseIntegrityHash(h)))).toEqual([20, 32, 48, 64, 8]);
  });
  it('refuses a key for blake2b and xxhash64: integritysetup cannot key them, so no stack of ours does', () => {
    expect(() => integrityTag({ hash: 'xxhash64', key: Buffer.alloc(8), logicalSector: 0, data, tagSize: 8 })).toThrow(/not modelled/);
  });
});
