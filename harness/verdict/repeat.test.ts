import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../results.ts';
import { worstVerdict } from './order.ts';
import { combineRuns, finalAttempts } from './repeat.ts';
import type { Verdict } from './types.ts';

const run = (repeat: number, verdict: Verdict, attempt = 1, reason = `${verdict} reason`): RunRecord =>
  ({ repeat, attempt, verdict, reason, durationMs: 1000, dir: `cells/x/rep${repeat}-try${attempt}` });

describe('worstVerdict', () => {
  it('orders crash > hang > fail > error > pass > skip', () => {
    expect(worstVerdict(['pass', 'crash', 'fail'])).toBe('crash');
    expect(worstVerdict(['fail', 'hang'])).toBe('hang');
    expect(worstVerdict(['error', 'fail'])).toBe('fail');
    expect(worstVerdict(['pass', 'error'])).toBe('error');
    expect(worstVerdict(['skip', 'pass'])).toBe('pass');
    expect(worstVerdict([])).toBe('skip');
  });
});

describe('combineRuns', () => {
  it('is steady when every repetition agrees', () => {
    const c = combineRuns([run(1, 'pass'), run(2, 'pass'), run(3, 'pass')]);
    expect(c).toMatchObject({ verdict: 'pass', flaky: false, reason: '3/3 repetitions pass: pass reason' });
  });
  it('is flaky, with the worst verdict and its evidence, when repetitions judge the kernel differently', () => {
    const c = combineRuns([run(1, 'pass'), run(2, 'crash', 1, 'BUG: oops'), run(3, 'pass')]);
    expect(c.verdict).toBe('crash');
    expect(c.flaky).toBe(true);
    expect(c.from.dir).toBe('cells/x/rep2-try1');
    expect(c.reason).toBe('flaky: 2 pass, 1 crash in 3 repetitions; repetition 2: BUG: oops');
    expect(combineRuns([run(1, 'fail'), run(2, 'crash')]).flaky).toBe(true);
  });
  it('does not call an infrastructure error beside passes flaky: the cell is error', () => {
    const c = combineRuns([run(1, 'pass'), run(2, 'error')]);
    expect(c).toMatchObject({ verdict: 'error', flaky: false });
  });
  it('lets a retry replace the error before it', () => {
    const runs = [run(1, 'error', 1), run(1, 'pass', 2)];
    expect(finalAttempts(runs)).toEqual([runs[1]]);
    expect(combineRuns(runs)).toMatchObject({ verdict: 'pass', flaky: false, reason: 'pass reason (1 infrastructure error(s) retried)' });
    expect(combineRuns([run(1, 'error', 1), run(1, 'error', 2)])).toMatchObject({ verdict: 'error' });
  });
  it('needs at least one execution', () => {
    expect(() => combineRuns([])).toThrow();
  });
});
