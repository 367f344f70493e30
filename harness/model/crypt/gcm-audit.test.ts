import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditIntegrityImage, type IntegrityAuditParams } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { planIntegrityFormat } from '../integrity/format.ts';
import { buildIntegrityImage, flipByte } from '../integrity/synthetic.ts';
import { parseCryptCipher } from './cipher.ts';
import { cryptCorruptionOffset, type CryptCorruption } from './corrupt.ts';
import { cryptAeadSealer, cryptAeadVerifier } from './verifier.ts';

const cipher = parseCryptCipher('capi:gcm(aes)-random');
const dir = mkdtempSync(join(tmpdir(), 'ih-gcm-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The same verifier without its run paths: every sector through node:crypto's GCM decipher, one at a time. */
function perSector(key: Buffer): NonNullable<IntegrityAuditParams['verifier']> {
  const fast = cryptAeadVerifier({ cipher, key });
  return (sb, g) => {
    const { verifyRun: _r, plaintextRun: _p, runBuffers: _b, ...v } = fast(sb, g);
    return v;
  };
}

/**
 * An 8 MiB image, every block written with random data, interleave areas of 4096 sectors: the audit's runs
 * are 1 MiB chunks (2048 sectors) cut at area boundaries too, so a run's first and last block sit at known
 * places. A few blocks are left never written (zeros sealed at format), one of them inside a run.
 */
function image(keyLen: number, bs: number) {
  const key = randomBytes(keyLen);
  const spb = bs / 512;
  const format = { deviceSectors: 16384, tagSize: 28, interleaveSectors: 4096, fixPadding: true, sectorsPerBlock: spb };
  const provided = planIntegrityFormat(format).providedDataSectors;
  const model = new IntegrityDeviceModel({ sectorsPerBlock: spb, providedDataSectors: provided });
  model.write(0, randomBytes(6144 * 512));
  model.write(6144 + 2 * spb, randomBytes((provided - 6144 - 2 * spb) * 512));
  const built = buildIntegrityImage({ format, sealer: cryptAeadSealer({ cipher, key }), model });
  const path = join(dir, `gcm-${keyLen}-${bs}.img`);
  return { key, spb, provided, model, path, ...built };
}

describe.each([[16, 512], [32, 512], [16, 4096], [32, 4096]])('gcm(aes) audit, %i-byte key, %i-byte sectors', (keyLen, bs) => {
  it('finds exactly the flipped sectors at the first and last block of runs, the same on the run path and sector by sector', () => {
    const img = image(keyLen, bs);
    const last = img.provided / img.spb - 1;
    const runBlocks = 2048 / img.spb;
    // first / last block of the first run, of a run that starts an interleave area, and of the image
    const hits: Array<[CryptCorruption, number]> = [
      ['data', 0], ['tag', runBlocks - 1], ['iv', runBlocks], ['data', 2 * runBlocks - 1], ['iv', 2 * runBlocks], ['tag', last - runBlocks + 1], ['data', last],
    ];
    for (const [where, block] of hits) flipByte(img.image, cryptCorruptionOffset(img.geometry, cipher, block, where));
    writeFileSync(img.path, img.image);
    const audit = (verifier: IntegrityAuditParams['verifier']) => auditIntegrityImage(img.path, { verifier, expected: img.model });
    const fast = audit(cryptAeadVerifier({ cipher, key: img.key }));
    expect(fast.disagreements.map((d) => [d.kind, d.block])).toEqual(hits.map(([, b]) => ['tag-mismatch', b]));
    expect(fast.blocks.invalid).toBe(hits.length);
    expect(audit(perSector(img.key))).toEqual(fast);

    // told about them, and wrong about the bytes of one block in a run that verifies
    for (const [where, block] of hits) img.model.corrupt(block, where === 'data' ? 'data' : 'tag');
    img.model.write(3 * 2048, Buffer.alloc(bs, 7));
    const told = audit(cryptAeadVerifier({ cipher, key: img.key }));
    expect(told.disagreements.map((d) => [d.kind, d.sector])).toEqual([['data-mismatch', 3 * 2048]]);
    expect(audit(perSector(img.key))).toEqual(told);
  }, 180_000);
});

describe('gcm(aes) audit, random corruptions', () => {
  it('reports exactly the corrupted blocks, in order, the same as sector by sector', () => {
    const img = image(32, 512);
    const blocks = img.provided;
    const where: CryptCorruption[] = ['data', 'tag', 'iv'];
    const picked = new Set<number>();
    for (let k = 0; k < 40; k++) picked.add(randomBytes(4).readUInt32LE(0) % blocks);
    for (const b of picked) flipByte(img.image, cryptCorruptionOffset(img.geometry, cipher, b, where[b % 3]!));
    writeFileSync(img.path, img.image);
    const one = auditIntegrityImage(img.path, { verifier: cryptAeadVerifier({ cipher, key: img.key }), expected: img.model });
    expect(one.disagreements.map((d) => d.block)).toEqual([...picked].sort((a, b) => a - b));
    expect(auditIntegrityImage(img.path, { verifier: perSector(img.key), expected: img.model })).toEqual(one);
    // from a Buffer (runs copied into the module's memory, not read there), and without the model, capped
    expect(auditIntegrityImage(img.image, { verifier: cryptAeadVerifier({ cipher, key: img.key }), expected: img.model }).disagreements).toEqual(one.disagreements);
    const alone = auditIntegrityImage(img.path, { verifier: cryptAeadVerifier({ cipher, key: img.key }), maxDisagreements: 5 });
    expect(auditIntegrityImage(img.path, { verifier: perSector(img.key), maxDisagreements: 5 })).toEqual(alone);
    expect(alone.disagreements).toHaveLength(5);
  }, 180_000);
});
