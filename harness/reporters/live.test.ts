import { describe, expect, it } from 'vitest';
import type { CellRecord } from '../results.ts';
import { estimateRemainingMs, formatDuration, LiveReporter, renderLive, type LiveState } from './live.ts';

const state = (over: Partial<LiveState> = {}): LiveState =>
  ({ running: [], doneMs: [], total: 4, cellsDone: 0, cells: 4, jobs: 2, startedAt: 0, ...over });

describe('estimateRemainingMs', () => {
  it('is unknown until an execution finished', () => {
    expect(estimateRemainingMs(state(), 1000)).toBeUndefined();
  });
  it('spreads the work left (not started + rest of running) over the jobs at the mean time so far', () => {
    // mean 30 s; 1 not started (30 s) + running 10 s in (20 s left) = 50 s over 2 jobs.
    const st = state({ doneMs: [20_000, 40_000], running: [{ id: 'a', repeat: 1, repeats: 1, attempt: 1, startedAt: 0 }] });
    expect(estimateRemainingMs(st, 10_000)).toBe(25_000);
  });
});

describe('renderLive', () => {
  it('shows a line per running execution and a counter, fitted to the terminal', () => {
    const st = state({
      doneMs: [30_000], cellsDone: 1,
      running: [
        { id: '6.1.0-56-amd64/integrity/001', repeat: 2, repeats: 3, attempt: 1, startedAt: 50_000 },
        { id: '6.1.0-56-amd64/integrity/002-a-very-long-scenario-name-that-does-not-fit', repeat: 1, repeats: 1, attempt: 2, startedAt: 58_000 },
      ],
    });
    expect(renderLive(st, 62_000, 80)).toEqual([
      '  running    12s  6.1.0-56-amd64/integrity/001 rep 2/3',
      '  running     4s  6.1.0-56-amd64/integrity/002-a-very-long-scenario-name-that-…',
      // 1 not started (30 s) + 18 s + 26 s left of the running ones, over 2 jobs.
      '[1/4 cells, 1/4 executions] 1m02s elapsed, ~37s left',
    ]);
    expect(formatDuration(3_723_000)).toBe('62m03s');
  });
});

describe('LiveReporter', () => {
  it('prints finished cells for good and redraws the live block below them', () => {
    let out = '';
    let now = 0;
    const r = new LiveReporter((s) => { out += s; }, () => 100, () => now);
    r.onBegin({ runDir: '/r', cells: 1, executions: 1, jobs: 1, kernels: ['6.1'] });
    r.onExecutionBegin({ id: 'k/s', repeat: 1, repeats: 1, attempt: 1 });
    now = 30_000;
    r.onExecutionEnd({ id: 'k/s', repeat: 1, repeats: 1, attempt: 1, verdict: 'pass', reason: 'ok', durationMs: 30_000 });
    const rec: CellRecord = { id: 'k/s', kernel: 'k', kernelSpec: '6.1', scenario: 's', verdict: 'pass', reason: 'ok', durationMs: 30_000, dir: '' };
    out = '';
    r.onCellEnd(rec);
    // Erase the 1-line block (cursor to the previous line, clear below), print the cell, redraw the counter.
    expect(out).toBe('\x1b[1F\x1b[JPASS    30.0s  k/s\n[1/1 cells, 1/1 executions] 30s elapsed, ~0s left\n');
    out = '';
    r.onEnd({ schemaVersion: 1, runId: 'x', status: 'complete', startedAt: '', command: [], host: { hostname: 'h', cpus: 1, memoryBytes: 1 }, kernels: [], cells: [rec], counts: { pass: 1, fail: 0, crash: 0, hang: 0, error: 0, skip: 0 } }, '/r');
    expect(out.startsWith('\x1b[1F\x1b[J\n1 pass')).toBe(true);
  });
});
