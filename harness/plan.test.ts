import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from './errors.ts';
import { executions, parseShard, perExecutionDirs, planCells, planMatrix, planRecord, plannedKernels, shardCells, withCompat } from './plan.ts';

const k = (text: string) => ({ text });
const s = (id: string) => ({ id });

describe('parseShard', () => {
  it('reads i/n, 1-based', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, total: 4 });
    expect(parseShard(' 4/4 ')).toEqual({ index: 4, total: 4 });
  });
  it('rejects what is not a shard of n, naming the option and the value', () => {
    for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3', '-1/2']) {
      expect(() => parseShard(bad)).toThrow(UsageError);
      expect(() => parseShard(bad)).toThrow(`--shard expects i/n with 1 <= i <= n (e.g. 1/4), got '${bad}'`);
    }
  });
});

describe('planCells', () => {
  it('is every kernel x every scenario, keyed by --kernel text and scenario id', () => {
    const cells = planCells([k('6.1'), k('4.13')], [s('a/1'), s('b/2')]);
    expect(cells.map((c) => c.key)).toEqual(['6.1/a/1', '6.1/b/2', '4.13/a/1', '4.13/b/2']);
  });
  it('refuses the same --kernel twice', () => {
    expect(() => planCells([k('6.1'), k('6.1')], [s('a')])).toThrow('--kernel 6.1 is given twice');
  });
});

describe('shardCells', () => {
  const all = planCells([k('6.1'), k('6.12'), k('4.13')], ['a/1', 'a/2', 'b/1', 'b/2', 'c/1'].map(s));

  it('covers every cell exactly once over the shards, sizes differing by at most one', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), (n) => {
      const slices = Array.from({ length: n }, (_, i) => shardCells(all, { index: i + 1, total: n }));
      const keys = slices.flat().map((c) => c.key).sort();
      expect(keys).toEqual(all.map((c) => c.key).sort());
      const sizes = slices.map((x) => x.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }));
  });

  it('does not depend on the order of --kernel flags, and keeps plan order inside a slice', () => {
    const reordered = planCells([k('4.13'), k('6.12'), k('6.1')], ['c/1', 'b/2', 'b/1', 'a/2', 'a/1'].map(s));
    for (let i = 1; i <= 3; i++) {
      const a = shardCells(all, { index: i, total: 3 }).map((c) => c.key);
      const b = shardCells(reordered, { index: i, total: 3 }).map((c) => c.key);
      expect(new Set(a)).toEqual(new Set(b));
      expect(a).toEqual(all.map((c) => c.key).filter((x) => a.includes(x)));
    }
  });

  it('is a fixed slice: the same cells on every machine (sorted keys 1, 5, 9, 13 for 2/4)', () => {
    expect(shardCells(all, { index: 2, total: 4 }).map((c) => c.key)).toEqual(['6.1/a/1', '6.1/c/1', '6.12/b/2', '4.13/a/2']);
  });
});

describe('planMatrix', () => {
  it('records the whole matrix, the shard and the repetition policy', () => {
    const plan = planMatrix([k('6.1'), k('4.13')], [s('a'), s('b'), s('c')], { repeat: 3, retries: 1, shard: { index: 2, total: 2 } });
    expect(planRecord(plan)).toEqual({ kernels: ['6.1', '4.13'], totalCells: 6, cells: 3, repeat: 3, retries: 1, shard: { index: 2, total: 2 } });
    expect(plannedKernels(plan).map((x) => x.text).sort()).toEqual(['4.13', '6.1']);
  });
  it('counts a gate\'s compatibility cells, both directions of each scenario, with the matrix\'s', () => {
    const plan = withCompat(planMatrix([k('base'), k('cand')], [s('a')], { repeat: 2 }), { base: k('base'), candidate: k('cand') }, [s('compat/x'), s('compat/y')]);
    expect(plan.compat!.map((c) => c.key)).toEqual(['base→cand/compat/x', 'cand→base/compat/x', 'base→cand/compat/y', 'cand→base/compat/y']);
    expect(plan.compat!.map((c) => `${c.writer.text} ${c.reader.text}`)).toEqual(['base cand', 'cand base', 'base cand', 'cand base']);
    expect(planRecord(plan)).toEqual({ kernels: ['base', 'cand'], totalCells: 6, cells: 6, compatCells: 4, repeat: 2, retries: 0 });
    expect(planRecord(withCompat(planMatrix([k('base'), k('cand')], [s('a')]), { base: k('base'), candidate: k('cand') }, []))).toMatchObject({ cells: 2, compatCells: 0 });
  });
  it('records the slow scenarios the default selection left out, in every shard alike', () => {
    const slowNotRun = { scenarios: ['crash/001', 'crash/002'], globs: ['crash/*'] };
    for (const index of [1, 2]) {
      expect(planRecord(planMatrix([k('6.1')], [s('a'), s('b')], { shard: { index, total: 2 }, slowNotRun })).slowNotRun).toEqual(slowNotRun);
    }
    expect(planRecord(planMatrix([k('6.1')], [s('a')])).slowNotRun).toBeUndefined();
  });
  it('resolves only the kernels a shard has cells for', () => {
    const plan = planMatrix([k('6.1'), k('4.13')], [s('a')], { shard: { index: 1, total: 2 } });
    expect(plan.cells).toHaveLength(1);
    expect(plannedKernels(plan)).toHaveLength(1);
  });
  it('defaults to one execution per cell, in the cell directory itself', () => {
    const plan = planMatrix([k('6.1')], [s('a')]);
    expect(plan.repeat).toBe(1);
    expect(perExecutionDirs(plan)).toBe(false);
    expect(perExecutionDirs({ repeat: 1, retries: 1 })).toBe(true);
  });
});

describe('executions', () => {
  it("runs a cell's repetitions one after another, cell by cell", () => {
    expect(executions(['x', 'y'], 2)).toEqual([{ cell: 'x', repeat: 1 }, { cell: 'x', repeat: 2 }, { cell: 'y', repeat: 1 }, { cell: 'y', repeat: 2 }]);
  });
});
