import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openImage } from '../model/image-source.ts';
import { encodeWriteLog, LOG_FLUSH, LOG_FUA, parseWriteLog } from './log-writes.ts';
import { progressAt } from './progress.ts';
import { differingRanges, Replayer, selectCrashPoints } from './replay.ts';

const S = 512;
const blk = (b: number) => Buffer.alloc(S, b);

/** start, w(1) w(2) flush, fua(3), w(4) w(5) w(6) flush, op marks between, end */
function sampleLog() {
  return encodeWriteLog(S, [
    { offset: 0, mark: 'ih-start' },
    { offset: 0, data: blk(1) },
    { offset: S, data: blk(2) },
    { offset: 0, flags: LOG_FLUSH },
    { offset: 0, mark: 'ih-op-0' },
    { offset: 2 * S, data: blk(3), flags: LOG_FUA },
    { offset: 0, mark: 'ih-op-1' },
    { offset: 0, data: blk(4) },
    { offset: 3 * S, data: blk(5) },
    { offset: 4 * S, data: blk(6) },
    { offset: 0, flags: LOG_FLUSH },
    { offset: 0, mark: 'ih-op-2' },
  ]);
}

describe('selectCrashPoints', () => {
  const log = parseWriteLog(openImage(sampleLog(), 'sample'));

  it('puts a point after every flush and FUA entry, past the marks that follow, and at the end', () => {
    const pts = selectCrashPoints(log, { torn: 0, seed: 's' });
    expect(pts.map((p) => [p.kind, p.end])).toEqual([['flush', 5], ['fua', 7], ['flush', 12]]);
  });

  it('samples torn points strictly inside a window of writes, deterministically', () => {
    const all = selectCrashPoints(log, { torn: 100, seed: 's' }).filter((p) => p.kind === 'torn');
    // window 1: after w(1); window 3: after w(4), after w(5). Never after the last write of a window.
    expect(all.map((p) => p.end)).toEqual([2, 8, 9]);
    const some = selectCrashPoints(log, { torn: 2, seed: 'x' });
    expect(some.filter((p) => p.kind === 'torn')).toHaveLength(2);
    expect(selectCrashPoints(log, { torn: 2, seed: 'x' })).toEqual(some);
  });

  it('samples reordered points: subsets of a window that are not prefixes, placed where the replay reaches them', () => {
    const pts = selectCrashPoints(log, { torn: 0, reordered: 50, seed: 's' });
    const re = pts.filter((p) => p.kind === 'reordered');
    // window 1 (writes 1, 2): only {2}; window 3 (writes 7, 8, 9): {8} {9} {7,9} {8,9}
    expect(re.map((p) => p.apply).sort()).toEqual([[2], [7, 9], [8], [8, 9], [9]]);
    expect(re.every((p) => p.windowStart === (p.apply![0]! < 5 ? 0 : 6))).toBe(true);
    // the replay never has to go backwards
    const positions = pts.map((p) => (p.apply ? p.windowStart : p.end));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  });
});

describe('Replayer', () => {
  it('rebuilds the image at each point, in place, and reports what changed', () => {
    const src = openImage(sampleLog(), 'sample');
    const log = parseWriteLog(src);
    const r = new Replayer(src, log, Buffer.alloc(8 * S));
    expect(r.advanceTo(2)).toEqual([[0, S]]);
    expect(r.image.subarray(0, S)).toEqual(blk(1));
    r.advanceTo(9);
    expect([0, 1, 2, 3, 4].map((b) => r.image[b * S])).toEqual([4, 2, 3, 5, 0]);
    expect(() => r.advanceTo(3)).toThrow(/cannot go from entry 9 to 3/);
  });

  it('gives a reordered image without moving the replay', () => {
    const src = openImage(sampleLog(), 'sample');
    const r = new Replayer(src, parseWriteLog(src), Buffer.alloc(8 * S));
    r.advanceTo(7);
    const img = r.imageWith([7, 9]);
    expect([0, 1, 2, 3, 4].map((b) => img[b * S])).toEqual([4, 2, 3, 0, 6]);
    expect(r.position).toBe(7);
    expect(r.image[0]).toBe(1);
    expect(() => r.imageWith([3])).toThrow(/entry 3 is not ahead of the replay/);
  });

  it('a broken replay drops every write into its range', () => {
    const src = openImage(sampleLog(), 'sample');
    const r = new Replayer(src, parseWriteLog(src), Buffer.alloc(8 * S), { kind: 'drop-range', start: S, length: 2 * S });
    r.advanceTo(12);
    expect([0, 1, 2, 3].map((b) => r.image[b * S])).toEqual([4, 0, 0, 5]);
  });

  it('applying a log prefix equals writing the same entries in order (property)', () => {
    fc.assert(fc.property(fc.array(fc.record({ block: fc.nat(15), byte: fc.integer({ min: 1, max: 255 }), fua: fc.boolean() }), { maxLength: 30 }), fc.nat(40), (writes, cut) => {
      const entries = writes.map((w) => ({ offset: w.block * S, data: blk(w.byte), ...(w.fua ? { flags: LOG_FUA } : {}) }));
      const src = openImage(encodeWriteLog(S, entries), 'prop');
      const r = new Replayer(src, parseWriteLog(src), Buffer.alloc(16 * S));
      const end = Math.min(cut, entries.length);
      r.advanceTo(end);
      const want = Buffer.alloc(16 * S);
      for (const e of entries.slice(0, end)) e.data.copy(want, e.offset);
      expect(r.image.equals(want)).toBe(true);
    }));
  });
});

describe('progressAt', () => {
  it('counts completed operations from the marks before a point; only the next one may be in flight', () => {
    const { entries } = parseWriteLog(openImage(sampleLog(), 'sample'));
    expect(progressAt(entries, 0, 3)).toEqual({ completed: 0, issued: 0 });
    expect(progressAt(entries, 1, 3)).toEqual({ completed: 0, issued: 1 });
    expect(progressAt(entries, 5, 3)).toEqual({ completed: 1, issued: 2 });
    expect(progressAt(entries, 12, 3)).toEqual({ completed: 3, issued: 3 });
  });
});

describe('differingRanges', () => {
  it('finds differing pages and merges neighbours', () => {
    const a = Buffer.alloc(5 * 4096);
    const b = Buffer.from(a);
    b[10] = 1;
    b[4096 + 5] = 1;
    b[4 * 4096] = 1;
    expect(differingRanges(a, b)).toEqual([[0, 8192], [16384, 4096]]);
    expect(differingRanges(a, a)).toEqual([]);
  });
});
