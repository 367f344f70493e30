/**
 * The model against disks a real kernel wrote (Debian 6.1, recipes in fixtures/*.yaml, made by
 * harness/test/make-fixtures.ts): every written sector decrypts to the bytes the recipe wrote, exactly the sectors
 * the host corrupted fail, and never-written sectors are blank.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pattern } from '../pattern.ts';
import { loadScenario } from '../../scenario/load.ts';
import { auditIntegrityImage } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { parseIntegritySuperblock, SB_BYTES } from '../integrity/superblock.ts';
import { parseCryptCipher } from './cipher.ts';
import { cryptAeadVerifier } from './verifier.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function fixture(name: string) {
  const scenario = await loadScenario(join(fixtures, `${name}.yaml`), fixtures);
  if (scenario.stack.type !== 'crypt-aead' || scenario.stack.key === undefined) throw new Error(`${name}: recipe needs a crypt-aead stack with a key`);
  const image = gunzipSync(readFileSync(join(fixtures, `${name}.img.gz`)));
  const sb = parseIntegritySuperblock(image.subarray(0, SB_BYTES), name);
  // replay the recipe: the runner writes pattern("<id>#<step>") for each write step
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: false });
  const corrupted: number[] = [];
  scenario.steps.forEach((step, i) => {
    if (typeof step === 'string') return;
    if ('write' in step) model.write(step.write.offset / 512, pattern(`${scenario.id}#${i}`, 0, step.write.length));
    if ('corrupt' in step) for (const b of step.corrupt.blocks) { model.corrupt(b, step.corrupt.where === 'data' ? 'data' : 'tag'); corrupted.push(b); }
  });
  const verifier = cryptAeadVerifier({ cipher: parseCryptCipher(scenario.stack.cipher), key: Buffer.from(scenario.stack.key, 'hex'), sectorSize: scenario.stack.sectorSize });
  return { image, model, corrupted, verifier, sb };
}

describe.each(['gcm-512', 'authenc-512', 'chacha-4096', 'authenc-plain64-512'])('disk written by Debian 6.1: %s', (name) => {
  it('agrees with the model block by block', async () => {
    const { image, model, corrupted, verifier } = await fixture(name);
    const r = auditIntegrityImage(image, { verifier, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.writtenBlocks().length - corrupted.length);
    expect(r.blocks.invalid).toBe(corrupted.length);
    expect(r.blocks.blank).toBe(r.blocks.total - model.writtenBlocks().length);
  });

  it('finds exactly the corrupted blocks when the model is not told about them', async () => {
    const { image, corrupted, verifier } = await fixture(name);
    const r = auditIntegrityImage(image, { verifier, wiped: false });
    expect(r.disagreements.map((d) => d.block).sort((a, b) => a! - b!)).toEqual([...corrupted].sort((a, b) => a - b));
  });
});
