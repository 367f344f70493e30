import { describe, expect, it } from 'vitest';
import { planIntegrityFormat } from '../../model/integrity/format.ts';
import { encodeIntegritySuperblock, parseIntegritySuperblock, SB_FLAG } from '../../model/integrity/superblock.ts';
import { ctrExpectation, judgeCtrSuperblock, judgeSuperblockFormat, judgeSuperblockKept, planned, readKernelSuperblock } from './superblock-judge.ts';

// what the model plans for a 64 MiB disk with crc32c tags (4 bytes), 512-byte sectors, fix_padding
const want = planIntegrityFormat({ deviceSectors: 131072, tagSize: 4, sectorsPerBlock: 1, fixPadding: true, internalHash: true });
/** The superblock area as the host read it from the image: the observation the judge sees. */
const area = () => encodeIntegritySuperblock(want);

describe('judgeSuperblockFormat', () => {
  it('agrees with the superblock the plan predicts', () => {
    const sb = parseIntegritySuperblock(area());
    expect(judgeSuperblockFormat(sb, { fields: planned(want), source: "the model's format plan" })).toEqual([]);
    expect(judgeSuperblockFormat(sb, { fields: planned(want), fixedPadding: { set: true, why: 'table asked for fix_padding' } })).toEqual([]);
  });

  it('finds a doctored superblock: provided data sectors 8 fewer, no fixed-padding flag', () => {
    const doctored = area();
    doctored.writeBigUInt64LE(BigInt(want.providedDataSectors - 8), 16);
    doctored.writeUInt32LE(want.flags & ~SB_FLAG.FIXED_PADDING, 24);
    const sb = parseIntegritySuperblock(doctored);
    expect(judgeSuperblockFormat(sb, { fields: planned(want), source: "the model's format plan" })).toEqual([
      { step: -1, kind: 'format', expected: `superblock providedDataSectors ${want.providedDataSectors} (the model's format plan)`, found: String(want.providedDataSectors - 8) },
    ]);
    expect(judgeSuperblockFormat(sb, { fields: planned(want), fixedPadding: { set: true, why: 'table asked for fix_padding' } })).toEqual([
      { step: -1, kind: 'format', expected: `superblock providedDataSectors ${want.providedDataSectors}`, found: String(want.providedDataSectors - 8) },
      { step: -1, kind: 'format', expected: 'fixed-padding flag (table asked for fix_padding)', found: `flags 0x${sb.flags.toString(16)}` },
    ]);
  });

  it('checks only the flag bits the ctr model predicts', () => {
    const kept = SB_FLAG.HAVE_JOURNAL_MAC | SB_FLAG.FIXED_PADDING | SB_FLAG.FIXED_HMAC;
    const ctr = ctrExpectation(want);
    const dirty = area();
    dirty.writeUInt32LE(want.flags | SB_FLAG.DIRTY_BITMAP, 24);
    expect(judgeSuperblockFormat(parseIntegritySuperblock(dirty), ctr)).toEqual([]);
    const mac = area();
    mac.writeUInt32LE(want.flags | SB_FLAG.HAVE_JOURNAL_MAC, 24);
    expect(judgeSuperblockFormat(parseIntegritySuperblock(mac), ctr)).toEqual([
      { step: -1, kind: 'format', expected: `superblock flags 0x${(want.flags & kept).toString(16)} of 0x${kept.toString(16)} (the ctr model)`, found: `0x${((want.flags | SB_FLAG.HAVE_JOURNAL_MAC) & kept).toString(16)}` },
    ]);
  });
});

describe('readKernelSuperblock', () => {
  it('parses what the kernel wrote, and says why it cannot when the magic is gone', () => {
    expect('sb' in readKernelSuperblock(area(), 'data superblock')).toBe(true);
    const broken = area();
    broken[0] = broken[0]! ^ 0xff;
    const r = readKernelSuperblock(broken, 'data superblock');
    expect('unreadable' in r && r.unreadable).toMatch(/data superblock/);
  });
});

describe('judgeSuperblockKept', () => {
  it('finds a superblock a refused activation rewrote', () => {
    const before = area();
    expect(judgeSuperblockKept(3, before, Buffer.from(before), 'the refused superblock left as it was')).toEqual([]);
    const after = Buffer.from(before);
    after[24] = after[24]! ^ SB_FLAG.DIRTY_BITMAP;
    expect(judgeSuperblockKept(3, before, after, 'the refused superblock left as it was')).toEqual([
      { step: 3, kind: 'superblock-rewritten', expected: 'the refused superblock left as it was', found: 'the superblock area changed' },
    ]);
  });
});

describe('judgeCtrSuperblock', () => {
  it("agrees with the superblock the ctr model predicted, and finds a doctored one's tag size and an unreadable one", () => {
    expect(judgeCtrSuperblock(2, area(), want, 'spare superblock')).toEqual([]);
    const doctored = area();
    doctored.writeUInt16LE(8, 10);
    expect(judgeCtrSuperblock(2, doctored, want, 'spare superblock')).toEqual([
      { step: 2, kind: 'format', expected: 'superblock tagSize 4 (the ctr model)', found: '8' },
    ]);
    const mac = area();
    mac.writeUInt32LE(want.flags | SB_FLAG.HAVE_JOURNAL_MAC, 24);
    expect(judgeCtrSuperblock(2, mac, want, 'spare superblock')).toEqual([expect.objectContaining({ step: 2, kind: 'format', expected: expect.stringMatching(/^superblock flags /) })]);
    expect(judgeCtrSuperblock(2, Buffer.alloc(512), want, 'spare superblock')).toEqual([
      { step: 2, kind: 'format', expected: 'the superblock the ctr formats', found: expect.stringContaining('spare superblock') },
    ]);
  });
});
