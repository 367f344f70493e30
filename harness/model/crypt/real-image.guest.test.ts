/**
 * Regenerates every dm-crypt AEAD fixture recipe (fixtures/*.yaml) in a Debian 6.1 guest and audits the fresh
 * disk with the model: what harness/test/make-fixtures.ts does, checked instead of stored. Random IVs make the fresh
 * ciphertext differ from the committed image, so the image is judged by the audit alone: it must agree with
 * the replayed recipe under the recipe's key, and a byte the test flips in an intact written block's
 * ciphertext, auth tag or stored IV must be found at exactly that block's sector.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { committedFixture, fixtureNames, flippedCopy, intactWrittenBlock, regenerateInGuest, removeRegeneratedDirs, replayRecipe } from '../../test/fixture-guest.ts';
import { auditIntegrityImage } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { integrityGeometry } from '../integrity/geometry.ts';
import { parseIntegritySuperblock, SB_BYTES } from '../integrity/superblock.ts';
import { parseCryptCipher } from './cipher.ts';
import { cryptCorruptionOffset, type CryptCorruption } from './corrupt.ts';
import { cryptAeadVerifier } from './verifier.ts';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
afterAll(removeRegeneratedDirs);

describe.each(fixtureNames(fixturesDir))('dm-crypt AEAD fixture regenerated on Debian 6.1 (QEMU): %s', (name) => {
  it('the guest writes a disk the model audits clean, and finds a flipped byte at its sector', async () => {
    const { scenario, image } = await regenerateInGuest(fixturesDir, name);
    const stack = scenario.stack;
    if (stack.type !== 'crypt-aead' || stack.key === undefined) throw new Error(`${name}: recipe needs a crypt-aead stack with a key`);
    const sb = parseIntegritySuperblock(image.subarray(0, SB_BYTES), name);
    const committed = parseIntegritySuperblock(committedFixture(fixturesDir, name).subarray(0, SB_BYTES), name);
    expect({ ...sb, salt: undefined }).toEqual({ ...committed, salt: undefined });

    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: false });
    const corrupted = replayRecipe(scenario, model);
    const cipher = parseCryptCipher(stack.cipher);
    const verifier = cryptAeadVerifier({ cipher, key: Buffer.from(stack.key, 'hex'), sectorSize: stack.sectorSize });
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.writtenBlocks().length - corrupted.length);
    expect(r.blocks.invalid).toBe(corrupted.length);
    expect(r.blocks.blank).toBe(r.blocks.total - model.writtenBlocks().length);

    const block = intactWrittenBlock(model, corrupted);
    const geom = integrityGeometry(sb);
    const places: CryptCorruption[] = cipher.storedIvSize > 0 ? ['data', 'tag', 'iv'] : ['data', 'tag'];
    for (const where of places) {
      const flipped = flippedCopy(image, cryptCorruptionOffset(geom, cipher, block, where));
      const f = auditIntegrityImage(flipped, { verifier, expected: model });
      expect([where, f.disagreements.map((d) => [d.sector, d.kind])]).toEqual([where, [[block * model.sectorsPerBlock, 'tag-mismatch']]]);
    }
  }, 300_000);
});
