/**
 * The model against LUKS2 disks cryptsetup and Debian 6.1 really wrote (recipes in fixtures/*.yaml, made by
 * harness/test/make-fixtures.ts): from the raw image alone (header -> data segment -> dm-integrity superblock at its
 * offset) and the volume key, every written sector decrypts to the recipe's bytes, exactly the sectors
 * the host corrupted fail, and the never-written ones (--integrity-no-wipe) are blank.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pattern } from '../pattern.ts';
import { loadScenario } from '../../scenario/load.ts';
import { cryptAeadVerifier } from '../crypt/verifier.ts';
import { auditIntegrityImage } from '../integrity/audit.ts';
import { IntegrityDeviceModel } from '../integrity/device.ts';
import { parseIntegritySuperblock, SB_BYTES } from '../integrity/superblock.ts';
import { planLuks2Integrity } from './format.ts';
import { parseLuks2Header } from './header.ts';
import { luks2DataSegment, luks2SegmentCipher } from './segment.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function fixture(name: string) {
  const scenario = await loadScenario(join(fixtures, `${name}.yaml`), fixtures);
  if (scenario.stack.type !== 'luks2' || scenario.stack.volumeKey === undefined) throw new Error(`${name}: recipe needs a luks2 stack with a volume key`);
  const image = gunzipSync(readFileSync(join(fixtures, `${name}.img.gz`)));
  const seg = luks2DataSegment(parseLuks2Header(image, name).active.json, name);
  const cipher = luks2SegmentCipher(seg, name);
  const sb = parseIntegritySuperblock(image.subarray(seg.offset, seg.offset + SB_BYTES), name);
  const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: !scenario.stack.integrityNoWipe });
  const corrupted: number[] = [];
  scenario.steps.forEach((step, i) => {
    if (typeof step === 'string') return;
    if ('write' in step) model.write(step.write.offset / 512, pattern(`${scenario.id}#${i}`, 0, step.write.length));
    if ('corrupt' in step) for (const b of step.corrupt.blocks) { model.corrupt(b, step.corrupt.where === 'data' ? 'data' : 'tag'); corrupted.push(b); }
  });
  const verifier = cryptAeadVerifier({ cipher, key: Buffer.from(scenario.stack.volumeKey, 'hex'), sectorSize: seg.sectorSize, ivOffsetSectors: seg.ivTweak });
  return { scenario, image, seg, sb, model, corrupted, verifier };
}

describe.each(['gcm-512', 'hmac-plain64-4096'])('LUKS2 disk written by cryptsetup on Debian 6.1: %s', (name) => {
  it('agrees with the model block by block, dm-integrity found at the header\'s data offset', async () => {
    const { image, seg, model, corrupted, verifier } = await fixture(name);
    const r = auditIntegrityImage(image, { verifier, startSector: seg.offset / 512, expected: model });
    expect(r.disagreements).toEqual([]);
    expect(r.blocks.valid).toBe(model.writtenBlocks().length - corrupted.length);
    expect(r.blocks.invalid).toBe(corrupted.length);
    expect(r.blocks.blank).toBe(r.blocks.total - model.writtenBlocks().length);
  });

  it('finds exactly the corrupted blocks when the model is not told about them', async () => {
    const { image, seg, corrupted, verifier } = await fixture(name);
    const r = auditIntegrityImage(image, { verifier, startSector: seg.offset / 512, wiped: false });
    expect(r.disagreements.map((d) => d.block).sort((a, b) => a! - b!)).toEqual([...corrupted].sort((a, b) => a - b));
  });

  it('decrypts nothing with dm-integrity assumed at 0 (the header) or with another volume key', async () => {
    const { image, seg, scenario, verifier, model, corrupted } = await fixture(name);
    expect(() => auditIntegrityImage(image, { verifier })).toThrow(/magic/);
    const good = Buffer.from((scenario.stack as { volumeKey: string }).volumeKey, 'hex');
    const flipped = (at: number) => { const k = Buffer.from(good); k[at]! ^= 1; return cryptAeadVerifier({ cipher: luks2SegmentCipher(seg), key: k, sectorSize: seg.sectorSize }); };
    // the last byte is in the GCM key, or in authenc's MAC key: nothing authenticates
    expect(auditIntegrityImage(image, { verifier: flipped(good.length - 1), startSector: seg.offset / 512, wiped: false }).blocks.valid).toBe(0);
    if (luks2SegmentCipher(seg).macKeySize === 0) return;
    // authenc with a wrong XTS key: the MAC still holds, the plaintext does not match what was written
    const r = auditIntegrityImage(image, { verifier: flipped(0), startSector: seg.offset / 512, expected: model });
    expect(r.blocks.valid).toBe(model.writtenBlocks().length - corrupted.length);
    expect(new Set(r.disagreements.map((d) => d.kind))).toEqual(new Set(['data-mismatch']));
    expect(r.disagreementCount).toBe(model.writtenBlocks().length - corrupted.length);
  });

  it('has the superblock the model predicts luksFormat leaves on this disk', async () => {
    const { sb, seg, scenario } = await fixture(name);
    const disk = scenario.disks[0]!.size;
    const want = planLuks2Integrity({ diskBytes: disk, tagSize: luks2SegmentCipher(seg).tupleSize, sectorSize: seg.sectorSize, dataOffset: seg.offset });
    for (const f of ['tagSize', 'log2SectorsPerBlock', 'log2InterleaveSectors', 'journalSections', 'providedDataSectors', 'flags'] as const) expect([f, sb[f]]).toEqual([f, want[f]]);
  });
});

describe('planLuks2Integrity', () => {
  it('matches what cryptsetup 2.6.1 + Debian 6.1 formatted on a 48 MiB disk (seen in the guest)', () => {
    // dmsetup table after cryptsetup open: "0 61240 integrity ... 32768 28 J 6 journal_sectors:704 ..." and 60728 with tag 32
    expect(planLuks2Integrity({ diskBytes: 48 << 20, tagSize: 28, sectorSize: 512 })).toMatchObject({ providedDataSectors: 61240, journalSections: 8 });
    expect(planLuks2Integrity({ diskBytes: 48 << 20, tagSize: 32, sectorSize: 512 }).providedDataSectors).toBe(60728);
  });
});
