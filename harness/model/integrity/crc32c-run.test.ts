import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32cRunVerifier } from './crc32c-run.ts';
import { tagWriter } from './tags.ts';

/** A run of blocks with the tags the per-block tag function (the reference) writes. */
function run(p: { bs: number; ts: number; salt?: Buffer; ls0: number; spb: number; n: number }) {
  const data = randomBytes(p.n * p.bs);
  const tags = Buffer.alloc(p.n * p.ts);
  const write = tagWriter({ hash: 'crc32c', tagSize: p.ts, ...(p.salt ? { salt: p.salt } : {}) });
  for (let i = 0; i < p.n; i++) write(p.ls0 + i * p.spb, data.subarray(i * p.bs, (i + 1) * p.bs), tags, i * p.ts);
  return { data, tags };
}

describe('crc32cRunVerifier', () => {
  it('accepts every run the per-block tags verify, and no run with one flipped bit in data, tag or padding', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 4, 8),
        fc.constantFrom(4, 8, 16),
        fc.boolean(),
        fc.integer({ min: 1, max: 40 }),
        fc.oneof(fc.integer({ min: 0, max: 1 << 20 }), fc.integer({ min: 0xffffff00, max: 0x1ffffffff })),
        fc.nat(),
        (spb, ts, salted, n, ls0Raw, pick) => {
          const bs = spb * 512;
          const ls0 = ls0Raw - (ls0Raw % spb);
          const salt = salted ? randomBytes(16) : undefined;
          const v = crc32cRunVerifier({ blockSize: bs, tagSize: ts, ...(salt ? { salt } : {}) })!;
          const { data, tags } = run({ bs, ts, ls0, spb, n, ...(salt ? { salt } : {}) });
          expect(v.verifyRun(ls0, spb, data, tags, n)).toBe(true);
          const bit = pick % ((data.length + tags.length) * 8);
          const target = bit < data.length * 8 ? data : tags;
          const at = bit < data.length * 8 ? bit : bit - data.length * 8;
          target[at >> 3]! ^= 1 << (at & 7);
          expect(v.verifyRun(ls0, spb, data, tags, n)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects blocks swapped with their tags (the tag covers the sector) and a run shifted by one block', () => {
    const { data, tags } = run({ bs: 512, ts: 4, ls0: 0, spb: 1, n: 8 });
    const v = crc32cRunVerifier({ blockSize: 512, tagSize: 4 })!;
    expect(v.verifyRun(1, 1, data, tags, 8)).toBe(false);
    const d = Buffer.from(data);
    const t = Buffer.from(tags);
    data.copy(d, 512 * 5, 512 * 2, 512 * 3);
    data.copy(d, 512 * 2, 512 * 5, 512 * 6);
    tags.copy(t, 4 * 5, 4 * 2, 4 * 3);
    tags.copy(t, 4 * 2, 4 * 5, 4 * 6);
    expect(v.verifyRun(0, 1, d, t, 8)).toBe(false);
  });

  it('is not offered for tags shorter than the CRC', () => {
    expect(crc32cRunVerifier({ blockSize: 512, tagSize: 3 })).toBeUndefined();
  });
});
