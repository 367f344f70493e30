import { createDecipheriv, createHmac } from 'node:crypto';
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

  it('fails exactly the blocks whose ciphertext, auth tag or stored IV the host flipped', () => {
    const { image, model, verifier, geometry, cipher } = setup(spec);
    const hits: Array<['data' | 'tag' | 'iv', number]> = [['data', 1001], ['tag', 1030], ...(cipher.storedIvSize ? [['iv', 3003] as ['iv', number]] : [])];
    for (const [where, block] of hits) flipByte(image, cryptCorruptionOffset(geometry, cipher, block, where));
    const told = auditIntegrityImage(image, { verifier, expected: model });
    // the model was not told: each flipped block is a tag mismatch
    expect(told.disagreements.map((d) => [d.kind, d.block])).toEqual(hits.map(([, b]) => ['tag-mismatch', b]));
    for (const [where, block] of hits) model.corrupt(block, where === 'data' ? 'data' : 'tag');
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.invalid).toBe(hits.length);
  });

  it('puts the stored IV right after the auth tag in the tag slot; plain64 stores none', () => {
    const { image, geometry, cipher } = setup(spec);
    const { iv, padding } = tupleLayout(cipher);
    expect(iv).toBe(cipher.authTagSize);
    expect(padding - iv).toBe(cipher.storedIvSize);
    expect(cipher.tupleSize).toBe(cipher.authTagSize + cipher.storedIvSize);
    if (cipher.storedIvSize === 0) {
      expect(() => cryptCorruptionOffset(geometry, cipher, 1000, 'iv')).toThrow(/stores no IV \(plain64 IVs come from the sector number\)/);
      return;
    }
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

describe('plain64 IVs (capi:authenc(hmac(sha256),xts(aes))-plain64)', () => {
  const spec = 'capi:authenc(hmac(sha256),xts(aes))-plain64';

  it('encrypts and MACs with IV le64(sector) and AAD le64(sector) || IV: HMAC-SHA256 computed here by hand', () => {
    const { image, geometry, cipher, key } = setup(spec);
    const ls = 3001;
    const data = image.subarray(geometry.dataByteOffset(ls), geometry.dataByteOffset(ls) + 512);
    const tag = image.subarray(geometry.tagByteOffset(ls), geometry.tagByteOffset(ls) + cipher.tupleSize);
    const iv = Buffer.alloc(16);
    iv.writeUInt32LE(ls, 0);
    const aad = Buffer.concat([iv.subarray(0, 8), iv]);
    expect(Buffer.from(tag)).toEqual(createHmac('sha256', key.subarray(64)).update(aad).update(data).digest());
    const x = createDecipheriv('aes-256-xts', key.subarray(0, 64), iv);
    expect(Buffer.concat([x.update(data), x.final()])).toEqual(Buffer.alloc(512, 0xee));
  });

  it('uses iv_offset for the IV only: an image sealed with one iv_offset does not verify with another', () => {
    const cipher = parseCryptCipher(spec);
    const key = deriveCryptKey(cipher, 'iv offset');
    const format = { deviceSectors: 4096, tagSize: cipher.tupleSize, fixPadding: true };
    const provided = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }) }).sb.providedDataSectors;
    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: provided, wiped: false });
    model.write(8, Buffer.alloc(2048, 0x42));
    const { image } = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key, ivOffsetSectors: 1024 }), model });
    expect(auditIntegrityImage(image, { verifier: cryptAeadVerifier({ cipher, key, ivOffsetSectors: 1024 }), expected: model }).disagreements).toEqual([]);
    expect(auditIntegrityImage(image, { verifier: cryptAeadVerifier({ cipher, key }), expected: model }).blocks.invalid).toBe(4);
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
