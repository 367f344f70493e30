import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asSuperblock, planIntegrityFormat } from './format.ts';
import { integrityGeometry, metadataRunSectors, type Area } from './geometry.ts';
import { SB_FLAG, type IntegritySuperblockFields } from './superblock.ts';

/** The LUKS2 `--integrity aead` case checked by hand in formats.md. */
const luksAead: IntegritySuperblockFields = {
  version: 4,
  log2InterleaveSectors: 15,
  tagSize: 28,
  journalSections: 11,
  providedDataSectors: 90000,
  flags: SB_FLAG.FIXED_PADDING,
  log2SectorsPerBlock: 0,
  log2BlocksPerBitmapBit: 15,
  recalcSector: 0,
  salt: Buffer.alloc(16),
};

describe('integrityGeometry', () => {
  it('puts logical sector 24 of the LUKS2 aead case at disk sector 35536+24', () => {
    const g = integrityGeometry(asSuperblock(luksAead), { startSector: 32768 });
    // journal entry roundup(8+8+28, 8)=48, 10 per sector, 80 per section, 88 sectors a section
    expect(g.journalSectionSectors).toBe(88);
    expect(g.initialSectors).toBe(8 + 88 * 11);
    expect(g.metadataRunSectors).toBe((28 << 15) / 512);
    expect(g.dataByteOffset(24)).toBe((35536 + 24) * 512);
    expect(g.tagByteOffset(24)).toBe((32768 + 976) * 512 + 24 * 28);
    // second interleave area: data after area 0's data and area 1's metadata run
    expect(g.dataByteOffset(32768)).toBe((32768 + 976 + 32768 + 2 * 1792) * 512);
    expect(g.tagByteOffset(32768)).toBe((32768 + 976 + 32768 + 1792) * 512);
  });

  it('derives 11 journal sections from a 64 MiB disk, as the kernel default journal size does', () => {
    const f = planIntegrityFormat({ deviceSectors: 131072, startSector: 32768, tagSize: 28, fixPadding: true });
    expect(f.journalSections).toBe(11);
    expect(f.version).toBe(4);
  });

  it('pads metadata runs to 4 KiB with fix_padding and to 128 KiB without', () => {
    const sb = { tagSize: 4, log2InterleaveSectors: 10, log2SectorsPerBlock: 0 };
    expect(metadataRunSectors({ ...sb, fixedPadding: true })).toBe(8);
    expect(metadataRunSectors({ ...sb, fixedPadding: false })).toBe(256);
  });

  it('places data and packed tags on separate devices with a metadata device', () => {
    const sb = asSuperblock({ ...luksAead, version: 2, flags: 0, log2InterleaveSectors: 0, tagSize: 4, log2SectorsPerBlock: 3, providedDataSectors: 800 });
    const g = integrityGeometry(sb, { separateMetadata: true, startSector: 0 });
    expect(g.dataByteOffset(16)).toBe(16 * 512);
    expect(g.tagByteOffset(17)).toBe(g.initialSectors * 512 + 2 * 4);
    expect(g.areas().filter((a) => a.device === 'meta').map((a) => a.kind)).toEqual(['superblock', 'journal', 'metadata']);
  });

  it('needs --meta for a superblock with interleave 0', () => {
    const sb = asSuperblock({ ...luksAead, log2InterleaveSectors: 0 });
    expect(() => integrityGeometry(sb)).toThrow(/separate metadata device/);
  });
});

const arbSuperblock = fc
  .record({
    log2spb: fc.integer({ min: 0, max: 3 }),
    extraLi: fc.integer({ min: 0, max: 10 }),
    tagSize: fc.integer({ min: 1, max: 64 }),
    journalSections: fc.integer({ min: 1, max: 16 }),
    areasTimes: fc.integer({ min: 1, max: 5 }),
    partialBlocks: fc.integer({ min: 0, max: 1000 }),
    fixedPadding: fc.boolean(),
    journalMac: fc.boolean(),
    start: fc.integer({ min: 0, max: 40000 }),
  })
  .map((r) => {
    const li = Math.max(3, r.log2spb) + r.extraLi;
    const spb = 1 << r.log2spb;
    const interleave = 2 ** li;
    const provided = (r.areasTimes - 1) * interleave + Math.min(interleave, spb * (1 + r.partialBlocks));
    const sb = asSuperblock({
      version: r.fixedPadding ? 4 : 1,
      log2InterleaveSectors: li,
      tagSize: r.tagSize,
      journalSections: r.journalSections,
      providedDataSectors: provided,
      flags: (r.fixedPadding ? SB_FLAG.FIXED_PADDING : 0) | (r.journalMac ? SB_FLAG.HAVE_JOURNAL_MAC : 0),
      log2SectorsPerBlock: r.log2spb,
      log2BlocksPerBitmapBit: 0,
      recalcSector: 0,
      salt: Buffer.alloc(16),
    });
    return { sb, start: r.start };
  });

function containing(areas: Area[], kind: Area['kind'], from: number, len: number): Area | undefined {
  return areas.find((a) => a.kind === kind && from >= a.start && from + len <= a.start + a.length);
}

describe('geometry properties', () => {
  it('areas never overlap; every sector and tag lands inside its own area', () => {
    fc.assert(
      fc.property(arbSuperblock, fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), ({ sb, start }, picks) => {
        const g = integrityGeometry(sb, { startSector: start });
        const areas = g.areas().slice().sort((a, b) => a.start - b.start);
        expect(areas[0]!.start).toBe(start * 512);
        for (let i = 1; i < areas.length; i++) {
          expect(areas[i]!.start).toBeGreaterThanOrEqual(areas[i - 1]!.start + areas[i - 1]!.length);
        }
        expect(areas.at(-1)!.start + areas.at(-1)!.length).toBe(g.requiredDataBytes);
        const samples = [0, sb.providedDataSectors - 1, ...picks.map((p) => p % sb.providedDataSectors)];
        for (const ls of samples) {
          const d = containing(areas, 'data', g.dataByteOffset(ls), 512);
          const t = containing(areas, 'metadata', g.tagByteOffset(ls), sb.tagSize);
          expect(d, `data of sector ${ls}`).toBeDefined();
          expect(t, `tag of sector ${ls}`).toBeDefined();
          expect(d!.index).toBe(t!.index);
          // a block's sectors are contiguous on disk
          const first = ls - (ls % g.sectorsPerBlock);
          expect(g.dataByteOffset(ls)).toBe(g.dataByteOffset(first) + (ls - first) * 512);
          // distinct blocks have distinct, non-overlapping tags
          if (first + g.sectorsPerBlock < sb.providedDataSectors) {
            expect(g.tagByteOffset(first + g.sectorsPerBlock) - g.tagByteOffset(first)).toBeOneOf([
              sb.tagSize,
              (g.interleaveSectors + g.metadataRunSectors) * 512 - (g.interleaveSectors / g.sectorsPerBlock - 1) * sb.tagSize,
            ]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('planIntegrityFormat keeps the layout inside the device, like get_provided_data_sectors()', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2000, max: 400000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 3, max: 15 }),
        fc.boolean(),
        (deviceSectors, log2spb, tagSize, li, fixPadding) => {
          const plan = () => planIntegrityFormat({ deviceSectors, tagSize, sectorsPerBlock: 1 << log2spb, interleaveSectors: 2 ** li, fixPadding });
          // a 1 MiB device with a long tag and no padding fix has no room left after the journal: refused, not mis-planned
          if (deviceSectors < 4096) {
            try {
              plan();
            } catch (e) {
              expect((e as Error).message).toMatch(/too small/);
              return;
            }
          }
          const f = plan();
          const g = integrityGeometry(asSuperblock(f));
          expect(g.requiredDataBytes).toBeLessThanOrEqual(deviceSectors * 512);
          expect(f.providedDataSectors % 8).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
