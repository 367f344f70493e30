/**
 * Regenerates every dm-integrity fixture recipe (fixtures/*.yaml) in a Debian 6.1 guest and audits the
 * fresh disk with the model: what harness/test/make-fixtures.ts does, checked instead of stored. The fresh superblock
 * must equal the committed one in every field but the random salt, the fresh image must audit clean
 * against the replayed recipe, with every block verifying, and a byte the test flips in a written block's
 * data or tag must be found at exactly that block's sector.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { flippedCopy, intactWrittenBlock, regenerateInGuest, removeRegeneratedDirs } from '../../test/fixture-guest.ts';
import { auditIntegrityImage } from './audit.ts';
import { corruptionOffset } from './corrupt.ts';
import { committedImage, fixturesDir, loadRecipe, recipeNames, replay, superblockOf } from './fixtures/recipe.ts';
import { integrityGeometry } from './geometry.ts';

afterAll(removeRegeneratedDirs);

describe.each(recipeNames())('dm-integrity fixture regenerated on Debian 6.1 (QEMU): %s', (name) => {
  it('the guest writes a disk the model audits clean, with the committed superblock, and finds a flipped byte at its sector', async () => {
    const { image } = await regenerateInGuest(fixturesDir, name);
    const recipe = await loadRecipe(name);
    const sb = superblockOf(image, name);
    const committed = superblockOf(committedImage(name), name);
    expect({ ...sb, salt: undefined }).toEqual({ ...committed, salt: undefined });
    expect(sb.salt.equals(committed.salt)).toBe(false); // a fresh format, not a copy
    const model = replay(recipe, sb);
    const params = { hash: recipe.hash, ...(recipe.key ? { key: recipe.key } : {}), expected: model };
    const r = auditIntegrityImage(image, params);
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.blocks);

    const block = intactWrittenBlock(model, []);
    const geom = integrityGeometry(sb);
    for (const where of ['data', 'tag'] as const) {
      const f = auditIntegrityImage(flippedCopy(image, corruptionOffset(geom, block, where)), params);
      expect([where, f.disagreements.map((d) => [d.sector, d.kind])]).toEqual([where, [[block * model.sectorsPerBlock, 'tag-mismatch']]]);
    }
  }, 300_000);
});
