/**
 * Regenerates every dm-integrity fixture recipe (fixtures/*.yaml) in a Debian 6.1 guest and audits the
 * fresh disk with the model: what fixtures/make.ts does, checked instead of stored. The fresh superblock
 * must equal the committed one in every field but the random salt, and the fresh image must audit clean
 * against the replayed recipe, with every block verifying.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../vm/cache.ts';
import { runScenarioFile } from '../../run/single-cell.ts';
import { auditIntegrityImage } from './audit.ts';
import { committedImage, fixturesDir, loadRecipe, recipeNames, replay, superblockOf } from './fixtures/recipe.ts';

process.env.IH_CACHE_DIR ??= join(repoRoot(), '.cache');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.each(recipeNames())('dm-integrity fixture regenerated on Debian 6.1 (QEMU): %s', (name) => {
  it('the guest writes a disk the model audits clean, with the committed superblock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ih-integrity-regen-'));
    dirs.push(dir);
    const { result } = await runScenarioFile({ file: join(fixturesDir, `${name}.yaml`), scenariosDir: fixturesDir, kernel: '6.1', dir, keepDisks: true });
    expect(result.kernelRelease).toMatch(/^6\.1\./);
    expect(result.verdict, result.reason).toBe('pass');
    const image = readFileSync(join(dir, 'disks', 'data.img'));
    const recipe = await loadRecipe(name);
    const sb = superblockOf(image, name);
    const committed = superblockOf(committedImage(name), name);
    expect({ ...sb, salt: undefined }).toEqual({ ...committed, salt: undefined });
    expect(sb.salt.equals(committed.salt)).toBe(false); // a fresh format, not a copy
    const model = replay(recipe, sb);
    const r = auditIntegrityImage(image, { hash: recipe.hash, ...(recipe.key ? { key: recipe.key } : {}), expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.blocks);
  }, 300_000);
});
