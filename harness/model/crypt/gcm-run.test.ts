import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditIntegrityImage } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { planIntegrityFormat } from '../integrity/format.ts';
import { buildIntegrityImage, flipByte } from '../integrity/synthetic.ts';
import { sealSector } from './aead.ts';
import { parseCryptCipher } from './cipher.ts';
import { gcmRun } from './gcm-run.ts';
import { cryptAeadSealer, cryptAeadVerifier } from './verifier.ts';

const cipher = parseCryptCipher('capi:gcm(aes)-random');

/** A run sealed sector by sector by the reference AEAD (node:crypto GCM). */
function sealedRun(key: Buffer, bs: number, s0: number, n: number) {
  const step = bs / 512;
  const data = Buffer.alloc(n * bs);
  const tags = Buffer.alloc(n * 28);
  const plain = randomBytes(n * bs);
  for (let i = 0; i < n; i++) {
    const iv = randomBytes(12);
    const s = sealSector(cipher, key, s0 + i * step, iv, plain.subarray(i * bs, (i + 1) * bs));
    s.ciphertext.copy(data, i * bs);
    s.authTag.copy(tags, i * 28);
    iv.copy(tags, i * 28 + 16);
  }
  return { data, tags, plain, step };
}

describe('gcmRun', () => {
  it('accepts runs the reference seals, decrypts them, and rejects one flipped bit anywhere or a shifted sector', () => {
    fc.assert(
      fc.property(fc.constantFrom(16, 24, 32), fc.constantFrom(512, 4096), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 0, max: 2 ** 33 }), fc.nat(), (keyLen, bs, n, s0Raw, pick) => {
        const key = randomBytes(keyLen);
        const s0 = s0Raw - (s0Raw % (bs / 512));
        const { data, tags, plain, step } = sealedRun(key, bs, s0, n);
        const r = gcmRun({ key, sectorSize: bs, tupleSize: 28, authTagSize: 16 })!;
        expect(r.verifyRun(s0, step, data, tags, n)).toBe(true);
        expect(r.plaintext(data, n).equals(plain)).toBe(true);
        expect(r.verifyRun(s0 + step, step, data, tags, n)).toBe(false);
        const bit = pick % ((data.length + tags.length) * 8);
        const target = bit < data.length * 8 ? data : tags;
        const at = bit < data.length * 8 ? bit : bit - data.length * 8;
        target[at >> 3]! ^= 1 << (at & 7);
        expect(r.verifyRun(s0, step, data, tags, n)).toBe(false);
      }),
      { numRuns: 60 },
    );
  });

  it('accepts a run after a longer one, and a longer one after it (buffers reused between runs)', () => {
    for (const bs of [512, 4096]) {
      const key = randomBytes(16);
      const r = gcmRun({ key, sectorSize: bs, tupleSize: 28, authTagSize: 16 })!;
      for (const n of [9, 3, 1, 12, 5]) {
        const { data, tags, plain, step } = sealedRun(key, bs, 64, n);
        expect(r.verifyRun(64, step, data, tags, n)).toBe(true);
        expect(r.plaintext(data, n).equals(plain)).toBe(true);
      }
    }
  });

  it('verifies runs read straight into its buffers(), and leaves them holding the ciphertext', () => {
    for (const bs of [512, 4096]) {
      const key = randomBytes(32);
      const r = gcmRun({ key, sectorSize: bs, tupleSize: 28, authTagSize: 16 })!;
      const into = r.buffers(12);
      for (const n of [12, 5, 1]) {
        const { data, tags, plain, step } = sealedRun(key, bs, 8, n);
        data.copy(into.data);
        tags.copy(into.tags);
        expect(r.verifyRun(8, step, into.data, into.tags, n)).toBe(true);
        expect(r.plaintext(into.data, n).equals(plain)).toBe(true);
        expect(r.plaintext(into.data, n).equals(plain)).toBe(true); // asked twice: still the plaintext
        expect(into.data.subarray(0, n * bs).equals(data)).toBe(true);
        into.tags[n * 28 - 1]! ^= 1; // the last IV byte
        expect(r.verifyRun(8, step, into.data, into.tags, n)).toBe(false);
      }
    }
  });

  it('gives the audit the same disagreements as sector-by-sector decryption', () => {
    const key = randomBytes(32);
    const format = { deviceSectors: 16384, tagSize: 28, fixPadding: true };
    const provided = planIntegrityFormat(format).providedDataSectors;
    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: provided });
    model.write(0, randomBytes(provided * 512));
    const img = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }), model });
    for (const s of [5, 3000, provided - 1]) flipByte(img.image, img.geometry.dataByteOffset(s) + 7);
    flipByte(img.image, img.geometry.tagByteOffset(4000) + 20); // an IV byte
    const fast = cryptAeadVerifier({ cipher, key });
    const slow = (sb: Parameters<typeof fast>[0], g: Parameters<typeof fast>[1]) => {
      const { verifyRun: _r, plaintextRun: _p, ...perSector } = fast(sb, g);
      return perSector;
    };
    const a = auditIntegrityImage(img.image, { verifier: fast, expected: model });
    const b = auditIntegrityImage(img.image, { verifier: slow, expected: model });
    expect(a.disagreements.map((d) => [d.kind, d.sector])).toEqual([[ 'tag-mismatch', 5], ['tag-mismatch', 3000], ['tag-mismatch', 4000], ['tag-mismatch', provided - 1]]);
    expect(a).toEqual(b);
    // the model wrong about one sector's bytes: a data-mismatch there, found through the run's plaintext
    model.write(512, Buffer.alloc(512, 1));
    const c = auditIntegrityImage(img.image, { verifier: fast, expected: model });
    expect(c.disagreements.filter((d) => d.kind === 'data-mismatch').map((d) => d.sector)).toEqual([512]);
  });
});
