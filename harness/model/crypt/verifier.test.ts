import { describe, expect, it } from 'vitest';
import { ModelInputError } from '../errors.ts';
import { auditIntegrityImage } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { buildIntegrityImage, flipByte } from '../integrity/synthetic.ts';
import { CRYPT_AEAD_SPECS, deriveCryptKey, parseCryptCipher } from './cipher.ts';
import { cryptCorruptionOffset } from './corrupt.ts';
import { cryptAeadSealer, cryptAeadVerifier, tupleLayout } from './verifier.ts';

/** 4 MiB disk, small interleave so the written range crosses an area boundary (metadata run in between). */
function setup(spec: (typeof CRYPT_AEAD_SPECS)[number], sectorsPerBlock = 1) {
  const cipher = parseCryptCipher(spec);
  const key = deriveCryptKey(cipher, `verifier-test ${spec}`);
  const format = { deviceSectors: 8192, tagSize: cipher.tupleSize, interleaveSectors: 1024, fixPadding: true, sectorsPerBlock };
  const provided = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }) }).sb.providedDataSectors;
  const model = new IntegrityDeviceModel({ sectorsPerBlock, providedDataSectors: provided, wiped: false });
  const bytes = Buffer.alloc(512 * 48);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
  model.write(1000, bytes); // crosses the interleave boundary at 1024
  model.write(3000, Buffer.alloc(4096, 0xee));
  const built = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }), model });
  return { cipher, key, model, ...built, verifier: cryptAeadVerifier({ cipher, key }) };
}

describe.each(CRYPT_AEAD_SPECS)('%s over dm-integrity', (spec) => {
  it.each([1, 8])('decrypts every written sector to the model bytes; never-written ones are blank (%i-sector blocks)', (spb) => {
    const { image, model, verifier } = setup(spec, spb);
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.writtenBlocks().length);
    expect(r.blocks.blank).toBe(r.blocks.total - model.writtenBlocks().length);
  });

  it('fails exactly the blocks whose ciphertext, auth tag or IV the host flipped', () => {
    const { image, model, verifier, geometry, cipher } = setup(spec);
    const hits = { data: 1001, tag: 1030, iv: 3003 } as const;
    for (const [where, block] of Object.entries(hits) as [keyof typeof hits, number][]) {
      flipByte(image, cryptCorruptionOffset(geometry, cipher, block, where));
    }
    const told = auditIntegrityImage(image, { verifier, expected: model });
    expect(told.disagreements).toHaveLength(3); // the model was not told: each flipped block is a tag mismatch
    expect(told.disagreements.map((d) => [d.kind, d.block])).toEqual([['tag-mismatch', 1001], ['tag-mismatch', 1030], ['tag-mismatch', 3003]]);
    for (const [where, block] of Object.entries(hits)) model.corrupt(block, where === 'data' ? 'data' : 'tag');
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.invalid).toBe(3);
  });

  it('puts the IV right after the auth tag in the tag slot', () => {
    const { image, geometry, cipher } = setup(spec);
    const { iv } = tupleLayout(cipher);
    expect(iv).toBe(cipher.authTagSize);
    expect(cryptCorruptionOffset(geometry, cipher, 1000, 'iv')).toBe(geometry.tagByteOffset(1000) + cipher.authTagSize);
    const slot = image.subarray(geometry.tagByteOffset(1000), geometry.tagByteOffset(1000) + cipher.tupleSize);
    expect(slot.subarray(iv, iv + cipher.ivSize).equals(Buffer.alloc(cipher.ivSize))).toBe(false);
  });

  it('verifies nothing with another key, and reports it block by block', () => {
    const { image, model, cipher } = setup(spec);
    const wrong = cryptAeadVerifier({ cipher, key: deriveCryptKey(cipher, 'another key') });
    const r = auditIntegrityImage(image, { verifier: wrong, expected: model });
    expect(r.blocks.valid).toBe(0);
    expect(r.disagreementCount).toBe(model.writtenBlocks().length);
    expect(new Set(r.disagreements.map((d) => d.kind))).toEqual(new Set(['tag-mismatch']));
  });

  it('sees a sector moved to another place (AAD binds the sector number)', () => {
    const { image, model, verifier, geometry, cipher } = setup(spec);
    // copy sector 1001 with its tuple over sector 1002: both are authentic, but not at 1002
    image.copy(image, geometry.dataByteOffset(1002), geometry.dataByteOffset(1001), geometry.dataByteOffset(1001) + 512);
    image.copy(image, geometry.tagByteOffset(1002), geometry.tagByteOffset(1001), geometry.tagByteOffset(1001) + cipher.tupleSize);
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements.map((d) => [d.kind, d.sector])).toEqual([['tag-mismatch', 1002]]);
  });
});

describe('cryptAeadVerifier input checks', () => {
  it('refuses a superblock whose tag size is not the cipher tuple, or a crypt sector size the kernel would refuse', () => {
    const gcm = parseCryptCipher('capi:gcm(aes)-random');
    const authenc = setup('capi:authenc(hmac(sha256),xts(aes))-random');
    expect(() => auditIntegrityImage(authenc.image, { verifier: cryptAeadVerifier({ cipher: gcm, key: deriveCryptKey(gcm, 'k') }) }))
      .toThrow(/superblock tag size is 48 bytes, capi:gcm\(aes\)-random stores 28/);
    expect(() => auditIntegrityImage(authenc.image, { verifier: cryptAeadVerifier({ cipher: authenc.cipher, key: authenc.key, sectorSize: 4096 }) }))
      .toThrow(ModelInputError);
  });
});
