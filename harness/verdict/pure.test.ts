/**
 * Composition never mutates what was recorded: the comparisons, repeats and the shared-run choice run on a
 * deep-frozen summary (a write to it throws in a module) and leave it as it was.
 */
import { describe, expect, it } from 'vitest';
import type { CellRecord, RunRecord, SharedRunRecord, Summary } from '../results.ts';
import { classifyAgainst, compareWithBaseline } from './baseline.ts';
import { exitCodeForSummary } from './exit-code.ts';
import { judgeGate } from './gate.ts';
import { combineRuns } from './repeat.ts';
import { sharedRunVerdict } from './shared-run.ts';
import type { Verdict } from './types.ts';

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

const run = (repeat: number, verdict: Verdict, attempt = 1): RunRecord =>
  ({ repeat, attempt, verdict, reason: `${verdict} reason`, durationMs: 1, dir: `cells/x/rep${repeat}-try${attempt}` });

const cell = (kernelSpec: string, scenario: string, verdict: Verdict, extra: Partial<CellRecord> = {}): CellRecord => ({
  id: `${kernelSpec}/${scenario}`, kernel: kernelSpec, kernelSpec, scenario, verdict, reason: verdict, durationMs: 1, dir: '', ...extra,
});

const summary = (): Summary => ({
  schemaVersion: 1, runId: 'now', status: 'complete', startedAt: '2026-01-01T00:00:00Z', command: [], kernels: [],
  host: { hostname: 'h', cpus: 1, memoryBytes: 1 },
  cells: [
    cell('6.1', 'a', 'pass', { gate: { role: 'base' } }),
    cell('6.12', 'a', 'crash', { gate: { role: 'candidate', base: 'pass', change: 'regression' }, baseline: { verdict: 'pass', change: 'regression' } }),
    cell('6.1', 'b', 'error', { runs: [run(1, 'pass'), run(2, 'error'), run(2, 'fail', 2)] }),
    cell('6.12', 'b', 'pass'),
    cell('6.12', 'compat/c', 'fail', { gate: { role: 'compat', writer: 'base', reader: 'candidate' } }),
  ],
  counts: { pass: 2, fail: 1, crash: 1, hang: 0, error: 1, skip: 0 },
  gate: { base: { spec: '6.1' }, candidate: { spec: '6.12' }, regressions: 1, unjudged: 0, fixed: 0, compared: 1, compat: ['compat/c'] },
  baseline: { runId: 'base', dir: '/b', regressions: 1, unjudged: 0, fixed: 0 },
});

describe('composition over a frozen summary', () => {
  const s = deepFreeze(summary());
  const before = JSON.stringify(s);

  it('the baseline comparison returns its annotations and touches nothing', () => {
    const base = deepFreeze({ dir: '/b', summary: { ...summary(), runId: 'base' } });
    const c = compareWithBaseline(s, base);
    expect(c.cells).toHaveLength(s.cells.length);
    expect(c.totals).toMatchObject({ runId: 'base', dir: '/b' });
    const again = classifyAgainst(s.cells, s.baseline!, (x) => x.baseline?.verdict ?? null);
    expect(again.cells[1]).toEqual({ verdict: 'pass', change: 'regression' });
    expect(JSON.stringify(s)).toBe(before);
    expect(JSON.stringify(base.summary)).toBe(JSON.stringify({ ...summary(), runId: 'base' }));
  });

  it('the gate returns each cell\'s side and change and the totals, and touches nothing', () => {
    const g = judgeGate(s, { base: { spec: '6.1' }, candidate: { spec: '6.12' } }, ['compat/c']);
    expect(g.cells.map((x) => x?.role)).toEqual(['base', 'candidate', 'base', 'candidate', 'compat']);
    expect(g.cells[4]).toEqual({ role: 'compat', writer: 'base', reader: 'candidate', change: 'regression' });
    expect(g.totals).toMatchObject({ regressions: 2, unjudged: 0 });
    expect(JSON.stringify(s)).toBe(before);
  });

  it('repeats, the shared-run choice and the exit code read the records without changing them', () => {
    expect(combineRuns(s.cells[2]!.runs!).verdict).toBe('fail');
    const shared: SharedRunRecord = deepFreeze({ verdict: 'crash', reason: 'oops', signature: 'BUG @ f', before: ['x'], dir: 'cells/a/shared-run', guest: 'guests/k-1' });
    const rerun = deepFreeze(run(1, 'pass'));
    expect(sharedRunVerdict(rerun, shared).record).toMatchObject({ verdict: 'crash', signature: 'BUG @ f', dir: 'cells/a/shared-run' });
    expect(exitCodeForSummary(s)).toBe(1);
    expect(JSON.stringify(s)).toBe(before);
  });

  it('a write to the frozen summary would have thrown (the freeze is deep)', () => {
    expect(() => { (s.cells[0] as { verdict: Verdict }).verdict = 'fail'; }).toThrow(TypeError);
    expect(() => { s.cells[0]!.gate!.role = 'candidate'; }).toThrow(TypeError);
  });
});
