import { describe, expect, it } from 'vitest';
import type { CrashOp } from '../scenario/schema.ts';
import { chooseKillPoint, progressAtKill } from './kill-point.ts';

const w = (offset: number): CrashOp => ({ write: { offset, length: 4096, bs: 4096, fua: false, jobs: 1 } });
const workload: CrashOp[] = [w(0), 'flush', w(4096), 'flush', w(8192)];

describe('chooseKillPoint', () => {
  it('is a function of the seed: same seed, same point; always a write; the delay inside the window', () => {
    const win = { minMs: 20, maxMs: 400 };
    expect(chooseKillPoint(workload, 5, win)).toEqual(chooseKillPoint(workload, 5, win));
    const points = Array.from({ length: 200 }, (_, seed) => chooseKillPoint(workload, seed, win));
    for (const p of points) {
      expect(workload[p.op]).not.toBe('flush');
      expect(p.delayMs).toBeGreaterThanOrEqual(20);
      expect(p.delayMs).toBeLessThan(400);
    }
    // the seed varies both: every write is reached and the delays spread over the window
    expect(new Set(points.map((p) => p.op))).toEqual(new Set([0, 2, 4]));
    expect(Math.max(...points.map((p) => p.delayMs)) - Math.min(...points.map((p) => p.delayMs))).toBeGreaterThan(300);
  });

  it('refuses a workload without writes and an empty window', () => {
    expect(() => chooseKillPoint(['flush'], 1, { minMs: 0, maxMs: 10 })).toThrow(/at least one write/);
    expect(() => chooseKillPoint(workload, 1, { minMs: 10, maxMs: 10 })).toThrow(/empty/);
  });
});

describe('progressAtKill', () => {
  it('counts the killed operation as issued, and as completed only when its reply arrived', () => {
    expect(progressAtKill(2, false)).toEqual({ completed: 2, issued: 3 });
    expect(progressAtKill(2, true)).toEqual({ completed: 3, issued: 3 });
    expect(progressAtKill(0, false)).toEqual({ completed: 0, issued: 1 });
  });
});
