import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithBaseline } from '../verdict/baseline.ts';
import { writeFakeRun } from '../reports/fake-run.ts';
import { recordBaseline, type RunResults } from '../results.ts';
import { formatEnd, slowNotRunLine } from './line.ts';
import { Reporters, type Reporter } from './reporter.ts';

describe('formatEnd', () => {
  let dir: string, run: RunResults;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ih-line-'));
    run = await writeFakeRun(dir);
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('lists flaky cells apart from the steadily failing ones', () => {
    const text = formatEnd(run.summary, '/r');
    const flaky = text.indexOf('Flaky (repetitions disagree) (1):');
    const failing = text.indexOf('Failing (3):');
    expect(flaky).toBeGreaterThan(0);
    expect(failing).toBeGreaterThan(flaky);
    expect(text.slice(failing)).not.toContain('006-flaky');
    expect(text).toContain('1 pass, 1 fail, 2 crash, 1 hang, 1 error, 1 skip, 1 flaky');
  });

  it('lists regressions first when there is a baseline', () => {
    const s = structuredClone(run.summary);
    const base = structuredClone(run.summary);
    for (const c of base.cells) c.verdict = 'pass';
    recordBaseline(s, compareWithBaseline(s, { dir: '/base', summary: { ...base, runId: 'base-run' } }));
    const text = formatEnd(s, '/r');
    expect(text.split('\n')[1]).toBe('Regressions against base-run (4):');
    expect(text.split('\n')[2]).toContain('6.1.0-56-amd64/integrity/002-fail');
    expect(text).toContain('Passed in base-run, not judged now (2):');
    expect(text).toContain('4 regression(s), 0 fixed against base-run');
  });
});

describe('slow scenarios left out', () => {
  const plan = { totalCells: 24, cells: 24, repeat: 1, retries: 0 };

  it('the closing block says in one line which were not run and how to add them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ih-line-'));
    try {
      const run = await writeFakeRun(dir);
      const s = { ...structuredClone(run.summary), plan: { ...plan, slowNotRun: { scenarios: Array.from({ length: 9 }, (_, i) => `crash/00${i + 1}`), globs: ['crash/*'] } } };
      const lines = formatEnd(s, '/r').split('\n');
      expect(lines).toContain('9 slow scenarios not run (crash/*): add --slow');
      // right above the counts, where a reader looks for what ran
      expect(lines[lines.indexOf('9 slow scenarios not run (crash/*): add --slow') + 1]).toMatch(/^1 pass, /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('one scenario, several globs; nothing when none was left out or the run predates the field', () => {
    expect(slowNotRunLine({ plan: { ...plan, slowNotRun: { scenarios: ['crash/007'], globs: ['crash/007'] } } })).toBe('1 slow scenario not run (crash/007): add --slow');
    expect(slowNotRunLine({ plan: { ...plan, slowNotRun: { scenarios: ['a/1', 'b/1', 'b/2'], globs: ['a/1', 'b/*'] } } })).toBe('3 slow scenarios not run (a/1, b/*): add --slow');
    expect(slowNotRunLine({ plan: { ...plan, slowNotRun: { scenarios: [], globs: [] } } })).toBeUndefined();
    expect(slowNotRunLine({ plan })).toBeUndefined();
    expect(slowNotRunLine({})).toBeUndefined();
  });
});

describe('Reporters', () => {
  it("reports a reporter's crash on stderr and goes on with the others", async () => {
    const seen: string[] = [];
    const warnings: string[] = [];
    class Broken implements Reporter { onCellEnd(): void { throw new Error('boom'); } }
    const ok: Reporter = { onCellEnd: (c) => { seen.push(c.id); } };
    const r = new Reporters([new Broken(), ok], (s) => warnings.push(s));
    await r.emit('onCellEnd', { id: 'k/s', kernel: 'k', kernelSpec: 'k', scenario: 's', verdict: 'pass', reason: '', durationMs: 0, dir: '' });
    expect(seen).toEqual(['k/s']);
    expect(warnings).toEqual(['reporter Broken.onCellEnd failed: boom\n']);
  });
});
