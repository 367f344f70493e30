/**
 * The model against dm-integrity disks a real kernel wrote (Debian 6.1, integritysetup 2.6.1; recipes in
 * fixtures/*.yaml, made by harness/test/make-fixtures.ts): the superblock is the one the model predicts integritysetup
 * format leaves, every block's tag verifies and holds the bytes the recipe wrote (zeros elsewhere: format
 * wiped), and one flipped byte, in data or in a tag, is one tag-mismatch at that block's sector.
 */
import { describe, expect, it } from 'vitest';
import { auditIntegrityImage } from './audit.ts';
import { corruptionOffset } from './corrupt.ts';
import { planIntegrityFormat } from './format.ts';
import { integrityGeometry } from './geometry.ts';
import { committedImage, loadRecipe, recipeNames, replay, superblockOf } from './fixtures/recipe.ts';
import { flipByte } from './synthetic.ts';
import { digestSize } from './tags.ts';

async function fixture(name: string) {
  const recipe = await loadRecipe(name);
  const image = committedImage(name);
  const sb = superblockOf(image, name);
  const model = replay(recipe, sb);
  const geom = integrityGeometry(sb, { startSector: 0 });
  const params = { hash: recipe.hash, ...(recipe.key ? { key: recipe.key } : {}) };
  return { recipe, image, sb, model, geom, params };
}

const names = recipeNames();

it('the fixtures cover crc32c in journal, bitmap and direct mode, sha256, hmac-sha256 and 4096-byte sectors', async () => {
  const stacks = await Promise.all(names.map(async (n) => (await loadRecipe(n)).stack));
  for (const mode of ['journal', 'bitmap', 'direct']) expect(stacks.some((s) => s.hash === 'crc32c' && s.mode === mode), mode).toBe(true);
  for (const hash of ['sha256', 'hmac-sha256']) expect(stacks.some((s) => s.hash === hash), hash).toBe(true);
  expect(stacks.some((s) => s.sectorSize === 4096)).toBe(true);
});

describe.each(names)('dm-integrity disk written by Debian 6.1: %s', (name) => {
  it('has the superblock the model predicts integritysetup format leaves on this disk', async () => {
    const { recipe, sb, image } = await fixture(name);
    const want = planIntegrityFormat({
      deviceSectors: image.length / 512,
      tagSize: digestSize(recipe.hash),
      sectorsPerBlock: recipe.stack.sectorSize / 512,
      ...(recipe.stack.interleaveSectors !== undefined ? { interleaveSectors: recipe.stack.interleaveSectors } : {}),
      fixPadding: true,
      fixHmac: true,
      internalHash: true,
    });
    for (const f of ['version', 'tagSize', 'log2SectorsPerBlock', 'log2InterleaveSectors', 'journalSections', 'providedDataSectors', 'flags'] as const) {
      expect([f, sb[f]]).toEqual([f, want[f]]);
    }
    // fix_hmac: the tags cover a per-device random salt, also for crc32c
    expect(sb.fixedHmac && !sb.salt.equals(Buffer.alloc(16))).toBe(true);
  });

  it('agrees with the model block by block, and alone', async () => {
    const { image, model, params } = await fixture(name);
    const r = auditIntegrityImage(image, { ...params, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks).toEqual({ total: model.blocks, valid: model.blocks, filler: 0, blank: 0, invalid: 0 });
    expect(model.writtenBlocks().length).toBeGreaterThan(0);
    const alone = auditIntegrityImage(image, params);
    expect([alone.disagreementCount, alone.blocks.valid]).toEqual([0, model.blocks]);
  });

  it('finds one flipped byte in a written block\'s data, in another\'s tag and in a wiped block\'s data, at their sectors', async () => {
    const { image, model, geom, params } = await fixture(name);
    const written = model.writtenBlocks();
    const [a, b] = [written[0]!, written.at(-1)!];
    const wipedBlock = model.blocks - 1;
    expect(written).not.toContain(wipedBlock);
    const bad = Buffer.from(image);
    flipByte(bad, corruptionOffset(geom, a, 'data', 100));
    flipByte(bad, corruptionOffset(geom, b, 'tag', geom.tagSize - 1));
    flipByte(bad, corruptionOffset(geom, wipedBlock, 'data', geom.blockSize - 1));
    const spb = geom.sectorsPerBlock;
    const found = (r: ReturnType<typeof auditIntegrityImage>) => r.disagreements.map((d) => [d.kind, d.sector, d.offset]);
    const want = [
      ['tag-mismatch', a * spb, corruptionOffset(geom, a, 'tag')],
      ['tag-mismatch', b * spb, corruptionOffset(geom, b, 'tag')],
      ['tag-mismatch', wipedBlock * spb, corruptionOffset(geom, wipedBlock, 'tag')],
    ].sort((x, y) => (x[1] as number) - (y[1] as number));
    expect(found(auditIntegrityImage(bad, { ...params, expected: model }))).toEqual(want);
    expect(found(auditIntegrityImage(bad, params))).toEqual(want);
    // told about the corruptions, the model expects exactly these blocks to fail
    for (const [blk, where] of [[a, 'data'], [b, 'tag'], [wipedBlock, 'data']] as const) model.corrupt(blk, where);
    expect(auditIntegrityImage(bad, { ...params, expected: model }).disagreements).toEqual([]);
  });

  it('finds a block that verifies but does not hold what the recipe wrote', async () => {
    const { image, model, geom, params } = await fixture(name);
    const a = model.writtenBlocks()[0]!;
    // the block reads back fine, but as the wrong bytes: the model's own history differs
    model.write(a * geom.sectorsPerBlock, Buffer.alloc(geom.blockSize, 0x5a));
    const r = auditIntegrityImage(image, { ...params, expected: model });
    expect(r.disagreements.map((d) => [d.kind, d.sector])).toEqual([['data-mismatch', a * geom.sectorsPerBlock]]);
  });

  it('verifies nothing with another key, or with the fixed-HMAC salt ignored', async () => {
    const { image, sb, params } = await fixture(name);
    if (params.key) {
      const other = Buffer.from(params.key);
      other[0]! ^= 1;
      expect(auditIntegrityImage(image, { ...params, key: other }).blocks.valid).toBe(0);
    }
    const saltless = Buffer.from(image);
    saltless.writeUInt32LE(sb.flags & ~0x10, 24); // clear SB_FLAG_FIXED_HMAC: the model no longer mixes the salt in
    expect(auditIntegrityImage(saltless, params).blocks.valid).toBe(0);
  });
});
