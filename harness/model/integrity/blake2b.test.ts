import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Blake2b, blake2b } from './blake2b.ts';

const abc = Buffer.from('abc');
const seq = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));
const hex = (b: Buffer) => b.toString('hex');

describe('BLAKE2b', () => {
  it('matches RFC 7693 appendix A: BLAKE2b-512("abc")', () => {
    expect(hex(blake2b(64, [abc]))).toBe(
      'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923',
    );
  });

  // Python's hashlib.blake2b(data, digest_size=n) (the reference C implementation) produced these
  it.each([
    [20, '', '3345524abf6bbe1809449224b5972c41790b6cf2'],
    [20, 'abc', '384264f676f39536840523f284921cdc68b6846b'],
    [32, '', '0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8'],
    [32, 'abc', 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319'],
    [48, 'abc', '6f56a82c8e7ef526dfe182eb5212f7db9df1317e57815dbda46083fc30f54ee6c66ba83be64b302d7cba6ce15bb556f4'],
  ])('BLAKE2b-%i(%j) is its own parameterisation, not a truncation', (n, msg, want) => {
    const d = blake2b(n, [Buffer.from(msg)]);
    expect(hex(d)).toBe(want);
    expect(hex(blake2b(64, [Buffer.from(msg)])).startsWith(want)).toBe(false);
  });

  it('counts bytes across the block boundary (128 and 129 zero bytes)', () => {
    expect(hex(blake2b(32, [Buffer.alloc(128)]))).toBe('378d0caaaa3855f1b38693c1d6ef004fd118691c95c959d4efa950d6d6fcf7c1');
    expect(hex(blake2b(32, [Buffer.alloc(129)]))).toBe('baadfb64c3bd2cd187b54accc5e61a0720ed86bf48c28017873536cf9015d1b8');
  });

  it('keyed: the key block is compressed before the data, also with no data', () => {
    expect(hex(blake2b(32, [seq(255)], seq(64)))).toBe('fe7b76a61787c089141f9e10fca1e5092488d89c62ea793fb2c5b1f849b4f2cb');
    expect(hex(blake2b(20, [seq(129)], seq(1)))).toBe('38568af622ef7f461914df826bda2db3d4f6dda7');
    expect(hex(blake2b(64, [], seq(64)))).toBe(
      '10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568',
    );
  });

  it('a tag-shaped message (le64 sector || 4 KiB block) fed in pieces equals one update and node crypto for 512 bits', () => {
    const msg = Buffer.from(Array.from({ length: 4096 + 8 }, (_, i) => (i * 7 + 3) & 0xff));
    expect(hex(blake2b(32, [msg]))).toBe('6e17b43491d9e4317f439ce6812295eede83f8e3c7f6b5a3fa001696ce483129');
    const s = new Blake2b(32);
    for (const cut of [[0, 8], [8, 136], [136, 137], [137, 4104]] as const) s.update(msg.subarray(cut[0], cut[1]));
    expect(hex(s.digest())).toBe('6e17b43491d9e4317f439ce6812295eede83f8e3c7f6b5a3fa001696ce483129');
    expect(blake2b(64, [msg.subarray(0, 8), msg.subarray(8)]).equals(createHash('blake2b512').update(msg).digest())).toBe(true);
  });

  it('refuses digest and key lengths the algorithm does not define', () => {
    expect(() => new Blake2b(0)).toThrow(/1\.\.64/);
    expect(() => new Blake2b(65)).toThrow(/1\.\.64/);
    expect(() => new Blake2b(32, seq(65))).toThrow(/at most 64/);
  });
});
