import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { auditImage } from '../audit-image.ts';
import { ModelInputError } from '../errors.ts';

const here = dirname(fileURLToPath(import.meta.url));
const image = join(mkdtempSync(join(tmpdir(), 'ih-audit-crypt-')), 'gcm-512.img');
writeFileSync(image, gunzipSync(readFileSync(join(here, 'fixtures', 'gcm-512.img.gz'))));
const cipher = 'capi:gcm(aes)-random';
const key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

describe('npm run audit --cipher (auditImage)', () => {
  it('decrypts a real gcm image: written sectors verify, the three the recipe corrupted do not', () => {
    const r = auditImage(image, { cipher, key, wipe: false });
    expect(r.blocks).toMatchObject({ valid: 37, invalid: 3 });
    expect(r.disagreements.map((d) => [d.kind, d.sector])).toEqual([['tag-mismatch', 2], ['tag-mismatch', 5], ['tag-mismatch', 2050]]);
  });

  it('without --no-wipe, never-written sectors are disagreements too', () => {
    const r = auditImage(image, { cipher, key, maxDisagreements: 5 });
    expect(r.disagreementCount).toBe(r.blocks.blank + 3);
  });

  it('refuses what cannot be right before reading a sector', () => {
    expect(() => auditImage(image, { cipher })).toThrow(/--cipher capi:gcm\(aes\)-random needs --key <hex>/);
    expect(() => auditImage(image, { cipher, key, hash: 'crc32c' })).toThrow(/exclusive/);
    expect(() => auditImage(image, { cipher: 'aes-gcm-random', key })).toThrow(/--cipher: unknown dm-crypt AEAD cipher "aes-gcm-random"/);
    expect(() => auditImage(image, { cipher, key: key.slice(0, 10) })).toThrow(/--key: .*got 5 bytes/);
    expect(() => auditImage(image, { cipher: 'capi:authenc(hmac(sha256),xts(aes))-random', key: key + 'ff'.repeat(32) + key })).toThrow(/tag size is 28 bytes, .* stores 48/);
    expect(() => auditImage(image, { cipher, key, sectorSize: 4096 })).toThrow(ModelInputError);
  });
});
