import { describe, expect, it } from 'vitest';
import { recordBaseline, type CellRecord, type Summary } from '../results.ts';
import { compareWithBaseline, classifyChange, matchBaseline } from './baseline.ts';
import { exitCodeForSummary } from './exit-code.ts';
import type { Verdict } from './types.ts';

const cell = (kernelSpec: string, scenario: string, verdict: Verdict, kernel = kernelSpec): CellRecord =>
  ({ id: `${kernel}/${scenario}`, kernel, kernelSpec, scenario, verdict, reason: verdict, durationMs: 1, dir: '' });

const summary = (cells: CellRecord[]): Summary => ({
  schemaVersion: 1, runId: 'now', status: 'complete', startedAt: '2026-01-01T00:00:00Z', command: [], kernels: [],
  host: { hostname: 'h', cpus: 1, memoryBytes: 1 }, cells, counts: { pass: 0, fail: 0, crash: 0, hang: 0, error: 0, skip: 0 },
});

describe('classifyChange', () => {
  it('calls passed-there-and-bad-now a regression, and nothing else', () => {
    for (const now of ['fail', 'crash', 'hang'] as const) expect(classifyChange('pass', now)).toBe('regression');
    expect(classifyChange('pass', 'error')).toBe('unjudged');
    expect(classifyChange('pass', 'skip')).toBe('unjudged');
    expect(classifyChange('pass', 'pass')).toBe('same');
    expect(classifyChange('crash', 'pass')).toBe('fixed');
    expect(classifyChange('fail', 'crash')).toBe('same');
    expect(classifyChange('error', 'fail')).toBe('same');
    expect(classifyChange(null, 'crash')).toBe('new');
  });
});

describe('matchBaseline', () => {
  it('matches by --kernel text, then kernel label, then (one kernel each) by scenario', () => {
    const now = [cell('6.1', 'a', 'pass', '6.1.0-57-amd64'), cell('tree:/l', 'b', 'pass', '6.1.0-56-amd64')];
    const base = [cell('6.1', 'a', 'fail', '6.1.0-56-amd64'), cell('deb:x', 'b', 'crash', '6.1.0-56-amd64')];
    const m = matchBaseline(now, base);
    expect(m.get(now[0]!)?.verdict).toBe('fail');
    expect(m.get(now[1]!)?.verdict).toBe('crash');
    const ab = matchBaseline([cell('tree:/patched', 'a', 'crash')], [cell('6.1', 'a', 'pass')]);
    expect([...ab.values()][0]?.verdict).toBe('pass');
    const many = matchBaseline([cell('tree:/p', 'a', 'crash'), cell('6.12', 'a', 'pass')], [cell('6.1', 'a', 'pass')]);
    expect([...many.values()]).toEqual([undefined, undefined]);
  });
});

describe('baseline exit codes', () => {
  const base = { dir: '/b', summary: summary([cell('6.1', 'a', 'pass'), cell('6.1', 'b', 'fail'), cell('6.1', 'c', 'pass')]) };
  const run = (verdicts: Verdict[]) => {
    const s = summary(verdicts.map((v, i) => cell('6.1', 'abcd'[i]!, v)));
    recordBaseline(s, compareWithBaseline(s, base));
    return s;
  };

  it('lists the changes and counts them', () => {
    const s = run(['crash', 'pass', 'pass', 'fail']);
    expect(s.cells.map((c) => c.baseline?.change)).toEqual(['regression', 'fixed', 'same', 'new']);
    expect(s.baseline).toEqual({ runId: 'now', dir: '/b', regressions: 1, unjudged: 0, fixed: 1 });
  });
  it('exits 1 on a regression only; known and new failures do not count', () => {
    expect(exitCodeForSummary(run(['crash', 'fail', 'pass']))).toBe(1);
    expect(exitCodeForSummary(run(['pass', 'fail', 'pass', 'crash']))).toBe(0);
    expect(exitCodeForSummary(summary([cell('6.1', 'b', 'fail')]))).toBe(1);
  });
  it('exits 125 when a cell that passed there cannot be judged now, or nothing matched', () => {
    expect(exitCodeForSummary(run(['error', 'fail', 'pass']))).toBe(125);
    const s = summary([cell('5.10', 'z', 'pass'), cell('6.12', 'z', 'pass')]);
    recordBaseline(s, compareWithBaseline(s, base));
    expect(exitCodeForSummary(s)).toBe(125);
  });
  it('exits 0 for a shard that was dealt no cells, 125 for an unsharded empty run', () => {
    expect(exitCodeForSummary({ cells: [], plan: { kernels: ['6.1'], totalCells: 1, cells: 0, repeat: 1, retries: 0, shard: { index: 2, total: 2 } } })).toBe(0);
    expect(exitCodeForSummary({ cells: [] })).toBe(125);
  });
});
