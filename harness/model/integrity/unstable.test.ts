import { describe, expect, it } from 'vitest';
import { IntegrityDeviceModel } from './device.ts';
import { raceSector } from './race-payload.ts';
import { foreignByte, judgeUnstable, unstableMayFail, type UnstableBlockRead, type UnstableInput, type UnstableSector, type UnstableStack, type UnstableWrite } from './unstable.ts';

/** 4 KiB blocks (8 sectors); the range is blocks 16 and 17. */
const SPB = 8;
const TAG = 5;
const w = (k: number, block: number, versions: number, mutated = 10, errno = 0): UnstableWrite =>
  ({ k, sector: block * SPB, sectors: SPB, t0: 100 * k, t1: 100 * k + 50, errno, versions, mutated });
const exact = (v: number): UnstableSector[] => Array.from({ length: SPB }, () => ({ kind: 'version', v }));
const rb = (k: number, block: number, sectors?: UnstableSector[], errno = 0): UnstableBlockRead =>
  ({ k, sector: block * SPB, errno, ...(sectors ? { sectors } : {}) });
const input = (stack: UnstableStack, writes: UnstableWrite[], reads: UnstableBlockRead[]): UnstableInput => ({ stack, tag: TAG, sectorsPerBlock: SPB, writes, reads });

/** Sector `lba` of write k torn: its first `cut` bytes from version a, the rest from version b. */
function torn(k: number, lba: number, a: number, b: number, cut: number): Buffer {
  const s = raceSector(TAG, k + 1, b, lba);
  raceSector(TAG, k + 1, a, lba).copy(s, 0, 0, cut);
  return s;
}

describe('unstableMayFail', () => {
  it('lets only direct and bitmap mode fail a read of a block written from a changing buffer', () => {
    expect(['journal', 'bitmap', 'direct', 'crypt-aead'].map((s) => unstableMayFail(s as UnstableStack))).toEqual([false, true, true, false]);
  });
});

describe('foreignByte', () => {
  it('accepts a sector whose every byte is some version, and names the first byte that is none', () => {
    expect(foreignByte(torn(0, 130, 1, 4, 77), TAG, 0, 5, 130)).toBe(-1);
    expect(foreignByte(torn(0, 130, 1, 4, 77), TAG, 0, 4, 130)).toBeGreaterThanOrEqual(77);
    const bad = raceSector(TAG, 1, 2, 130);
    const held = new Set([0, 1, 2].map((v) => raceSector(TAG, 1, v, 130)[300]));
    bad[300] = [...Array(256).keys()].find((x) => !held.has(x))!;
    expect(foreignByte(bad, TAG, 0, 3, 130)).toBe(300);
    expect(foreignByte(Buffer.alloc(512, 0xee), TAG, 0, 3, 130)).toBeGreaterThanOrEqual(0);
  });
});

describe('judgeUnstable', () => {
  it('adopts the bytes read back, whole versions and mixes within a sector alike, and counts what happened', () => {
    const mixed: UnstableSector[] = [...exact(2).slice(0, 3), { kind: 'bytes', bytes: torn(1, 17 * SPB + 3, 0, 3, 200) }, ...exact(3).slice(0, 4)];
    const j = judgeUnstable(input('journal', [w(0, 16, 3), w(1, 17, 4, 0)], [rb(0, 16, exact(2)), rb(1, 17, mixed)]));
    expect(j.disagreements).toEqual([]);
    expect({ mutated: j.mutatedWrites, first: j.exactFirst, later: j.exactLater, mixed: j.mixed, torn: j.tornSectors, eilseq: j.eilseq })
      .toEqual({ mutated: 1, first: 0, later: 1, mixed: 1, torn: 1, eilseq: 0 });
    const b17 = j.blocks.get(17);
    expect(b17?.kind).toBe('data');
    if (b17?.kind === 'data') {
      expect(b17.data.subarray(0, 512).equals(raceSector(TAG, 2, 2, 17 * SPB))).toBe(true);
      expect(b17.data.subarray(3 * 512, 4 * 512).equals(torn(1, 17 * SPB + 3, 0, 3, 200))).toBe(true);
    }
    expect(j.unknown.size).toBe(0);
  });

  it('lets EILSEQ through in direct and bitmap mode only, as a block its tag does not verify', () => {
    for (const stack of ['bitmap', 'direct'] as const) {
      const j = judgeUnstable(input(stack, [w(0, 16, 3)], [rb(0, 16, undefined, 84)]));
      expect(j.disagreements).toEqual([]);
      expect(j.blocks.get(16)).toEqual({ kind: 'mismatch' });
      expect(j.eilseq).toBe(1);
    }
    for (const stack of ['journal', 'crypt-aead'] as const) {
      const j = judgeUnstable(input(stack, [w(0, 16, 3)], [rb(0, 16, undefined, 84)]));
      expect(j.disagreements.map((d) => d.kind)).toEqual(['unstable-eilseq']);
      expect(j.blocks.has(16)).toBe(false);
      expect([...j.unknown]).toEqual([16]);
    }
    // any other error is a failure everywhere
    expect(judgeUnstable(input('bitmap', [w(0, 16, 3)], [rb(0, 16, undefined, 5)])).disagreements.map((d) => d.kind)).toEqual(['unstable-read-failed']);
  });

  it('refuses bytes of no version: a later version than the buffer went through, another write, garbage', () => {
    const kinds = (reads: UnstableBlockRead[]) => judgeUnstable(input('journal', [w(0, 16, 3)], reads)).disagreements.map((d) => d.kind);
    expect(kinds([rb(0, 16, exact(3))])).toEqual(['unstable-foreign']);
    expect(kinds([rb(0, 16, [...exact(1).slice(0, 7), { kind: 'bytes', bytes: raceSector(TAG, 9, 0, 16 * SPB + 7) }])])).toEqual(['unstable-foreign']);
    expect(kinds([rb(0, 16, [{ kind: 'bytes', bytes: Buffer.alloc(512) }, ...exact(1).slice(1)])])).toEqual(['unstable-foreign']);
  });

  it('keeps the last write of a block, and says when a write failed or a block was not read back', () => {
    const j = judgeUnstable(input('bitmap', [w(0, 16, 2), w(1, 16, 2, 5, 5), w(2, 17, 2)], [rb(0, 16, undefined, 84), rb(1, 16, exact(1))]));
    expect(j.disagreements.map((d) => d.kind)).toEqual(['unstable-write-failed', 'unstable-missing']);
    expect(j.blocks.get(16)?.kind).toBe('data');
    expect([...j.unknown]).toEqual([17]);
  });
});

describe('IntegrityDeviceModel.mismatch', () => {
  it('fails the block with EILSEQ, leaves its data unknown and the others alone, until a write heals it', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: SPB, providedDataSectors: 64 * SPB });
    m.write(16 * SPB, Buffer.alloc(2 * 4096, 7));
    m.mismatch(16);
    expect(m.expectBlockRead(16)).toMatchObject({ ok: false, errno: 84 });
    expect(m.expectBlockRead(17)).toMatchObject({ ok: true });
    expect(m.dataOnDisk(16)).toBeUndefined();
    expect(m.corruptedBlocks()).toEqual([16]);
    m.write(16 * SPB, Buffer.alloc(4096, 9));
    expect(m.expectBlockRead(16)).toMatchObject({ ok: true });
    expect(m.corruptedBlocks()).toEqual([]);
  });
});
