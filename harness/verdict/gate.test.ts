import { describe, expect, it } from 'vitest';
import { exitCodeForGate } from './exit-code.ts';
import { compatChange, gateChange } from './gate.ts';
import type { Verdict } from './types.ts';

const V: Verdict[] = ['pass', 'fail', 'crash', 'hang', 'error', 'skip'];

describe('gateChange', () => {
  it('is a regression exactly when base passed and the candidate failed, crashed or hung', () => {
    for (const b of V) for (const c of V) {
      expect(gateChange(b, c) === 'regression', `${b} -> ${c}`).toBe(b === 'pass' && ['fail', 'crash', 'hang'].includes(c));
    }
  });
  it('cannot judge an infrastructure error or skip where base passed, nor a failure where base errored', () => {
    expect(gateChange('pass', 'error')).toBe('unjudged');
    expect(gateChange('pass', 'skip')).toBe('unjudged');
    expect(gateChange('error', 'crash')).toBe('unjudged');
    expect(gateChange('error', 'pass')).toBe('same');
  });
  it('does not blame the candidate for what base could not run or already failed', () => {
    expect(gateChange('skip', 'fail')).toBe('new');
    expect(gateChange('crash', 'fail')).toBe('same');
    expect(gateChange('fail', 'pass')).toBe('fixed');
    expect(gateChange(null, 'fail')).toBe('new');
  });
});

describe('compatChange and the gate exit code', () => {
  it('any compatibility failure is a regression, an error unjudged', () => {
    expect(V.map(compatChange)).toEqual(['same', 'regression', 'regression', 'regression', 'unjudged', 'same']);
  });
  it('1 on a regression whatever else; 125 when unjudged or nothing compared; else 0', () => {
    expect(exitCodeForGate({ regressions: 1, unjudged: 3, compared: 0 })).toBe(1);
    expect(exitCodeForGate({ regressions: 0, unjudged: 1, compared: 10 })).toBe(125);
    expect(exitCodeForGate({ regressions: 0, unjudged: 0, compared: 0 })).toBe(125);
    expect(exitCodeForGate({ regressions: 0, unjudged: 0, compared: 1 })).toBe(0);
  });
});
