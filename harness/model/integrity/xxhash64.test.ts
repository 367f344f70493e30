import { describe, expect, it } from 'vitest';
import { Xxhash64, xxhash64 } from './xxhash64.ts';

/** The sample message of the kernel's crypto/testmgr.h xxhash64_tv_template (xxhsum's sanity buffer). */
const SANITY = Buffer.from(
  '408bb841e442152d88c79a091a9b42e0d438a52a26a5194b57657fadc37dca40316505bb31ae5111a8c0b32842eb3c46c8eded0f8d0bfa6e'
    + 'bce38853ca8fc8d941267a3d21db1a3c011dc9e9b73a7867572094f11efdce3999576939a5d08dd943fe1d66043c276ae10de7c9fac90756'
    + 'a5b3ecd91f426566aabf879bc5419c273f2fa9559301273343994d8185ae82006cd0d1a3571806ccec72f78e872d1f5ed75b1f364cfafd18'
    + '8976d35eb55ac001d2a19a50e608b476564f0ebc54fc67e6b9c0284bb5c3ff7952eaa190c3af087012020cdb94003895edfd08f7e804',
  'hex',
);
/** PRIME32_1 as the 8-byte little-endian key testmgr gives setkey() */
const KEY = Buffer.from('b179379e00000000', 'hex');

describe('xxhash64 (the kernel crypto API digest)', () => {
  it('empty input, seed 0, is 0xEF46DB3751D8E999, stored little-endian', () => {
    const d = xxhash64([]);
    expect(d.toString('hex')).toBe('99e9d85137db46ef');
    expect(d.readBigUInt64LE(0)).toBe(0xef46db3751d8e999n);
  });

  // crypto/testmgr.h xxhash64_tv_template: every tail path (byte, 4-byte, 8-byte lanes) and the 32-byte stripes
  it.each([
    [0, undefined, '99e9d85137db46ef'],
    [1, undefined, '205c91aa88eb59d0'],
    [14, undefined, 'a8e82ba992a1374a'],
    [222, undefined, '41fcd429fee78517'],
    [0, KEY, 'ef179b92a2fd75ac'],
    [1, KEY, 'd1704f1402c49e71'],
    [14, KEY, 'a4cdfe8e37e21c64'],
    [222, KEY, '58bc55f242815cf0'],
  ])('testmgr vector: %i bytes, key %s', (n, key, want) => {
    expect(xxhash64([SANITY.subarray(0, n)], key).toString('hex')).toBe(want);
  });

  it('gives the same digest however the message is split', () => {
    const whole = xxhash64([SANITY]).toString('hex');
    for (const cuts of [[1], [8, 9, 40], [31, 32, 33], [100, 200, 221]]) {
      const s = new Xxhash64();
      let at = 0;
      for (const c of [...cuts, SANITY.length]) {
        s.update(SANITY.subarray(at, c));
        at = c;
      }
      expect(s.digest().toString('hex')).toBe(whole);
    }
  });

  it('takes only an 8-byte key, as xxhash64_setkey() does', () => {
    expect(() => xxhash64([], Buffer.alloc(4))).toThrow(/8-byte key/);
  });
});
