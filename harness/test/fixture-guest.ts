/**
 * What the *real-image.guest.test.ts files share: run a fixture recipe (model/<stack>/fixtures/*.yaml) on
 * Debian 6.1 in a real guest through the same cell runner as the fixtures' make.ts, keep the disk the kernel
 * wrote, and replay the recipe's history into a model of the device. A guest that never booted, or a recipe
 * that did not pass, throws: a guest test must fail, not pass, without a guest.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { repoRoot } from '../../vm/cache.ts';
import { pattern } from '../model/pattern.ts';
import type { CellResult } from '../run/session/observations.ts';
import { runScenarioFile } from '../run/single-cell.ts';
import type { Scenario } from '../scenario/load.ts';
import type { IntegrityDeviceModel } from '../model/integrity/device.ts';

export const FIXTURE_KERNEL = '6.1';

export interface RegeneratedFixture {
  scenario: Scenario;
  result: CellResult;
  /** the data disk the guest left, stack closed (journal drained) */
  image: Buffer;
  dir: string;
}

/** The recipes in a fixtures directory: <name>.yaml, each with its committed <name>.img.gz. */
export function fixtureNames(fixturesDir: string): string[] {
  return readdirSync(fixturesDir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
}

export function committedFixture(fixturesDir: string, name: string): Buffer {
  return gunzipSync(readFileSync(join(fixturesDir, `${name}.img.gz`)));
}

const dirs: string[] = [];

/** Temporary cell directories of this test file; call from afterAll. */
export function removeRegeneratedDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export async function regenerateInGuest(fixturesDir: string, name: string): Promise<RegeneratedFixture> {
  process.env.IH_CACHE_DIR ??= join(repoRoot(), '.cache');
  const dir = mkdtempSync(join(tmpdir(), `ih-regen-${name}-`));
  dirs.push(dir);
  const { result, scenario } = await runScenarioFile({ file: join(fixturesDir, `${name}.yaml`), scenariosDir: fixturesDir, kernel: FIXTURE_KERNEL, dir, keepDisks: true });
  const where = `${name} on ${FIXTURE_KERNEL} (cell directory ${dir})`;
  if (result.kernelRelease === undefined) throw new Error(`${where}: the guest never reported a kernel release (did not boot): ${result.verdict}: ${result.reason}`);
  if (!result.kernelRelease.startsWith(`${FIXTURE_KERNEL}.`)) throw new Error(`${where}: booted ${result.kernelRelease}, not ${FIXTURE_KERNEL}`);
  if (result.verdict !== 'pass') throw new Error(`${where}: ${result.verdict}: ${result.reason}`);
  return { scenario, result, image: readFileSync(join(dir, 'disks', 'data.img')), dir };
}

/**
 * The recipe's history into `model`: the runner writes pattern("<id>#<step>") for each write step, and a
 * corrupt step flips one byte of each listed block (IV flips live in the tag slot). Returns the corrupted blocks.
 */
export function replayRecipe(scenario: Scenario, model: IntegrityDeviceModel): number[] {
  const corrupted: number[] = [];
  scenario.steps.forEach((step, i) => {
    if (typeof step === 'string') return;
    if ('write' in step) model.write(step.write.offset / 512, pattern(`${scenario.id}#${i}`, 0, step.write.length));
    else if ('corrupt' in step) {
      for (const b of step.corrupt.blocks) {
        model.corrupt(b, step.corrupt.where === 'data' ? 'data' : 'tag');
        corrupted.push(b);
      }
    } else if (!('read' in step)) throw new Error(`${scenario.id}: step ${i} (${Object.keys(step).join(', ')}): a fixture recipe only writes, reads and corrupts blocks`);
  });
  return [...new Set(corrupted)].sort((a, b) => a - b);
}

/**
 * A written block the recipe left intact, where a test flips its own bytes: the last one, so that its
 * sector is neither 0 nor the block number, and a wrong block-to-sector mapping shows.
 */
export function intactWrittenBlock(model: IntegrityDeviceModel, corrupted: number[]): number {
  const b = model.writtenBlocks().filter((x) => !corrupted.includes(x)).at(-1);
  if (b === undefined) throw new Error('the recipe wrote no block it did not also corrupt');
  return b;
}

/** A copy of `image` with the byte at `offset` inverted, as the runner's corrupt step does. */
export function flippedCopy(image: Buffer, offset: number): Buffer {
  const out = Buffer.from(image);
  out[offset] = out[offset]! ^ 0xff;
  return out;
}
