import { describe, expect, it } from 'vitest';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { judgeDiscard, judgeFlush } from './result-judge.ts';

const report = (o?: Record<string, unknown>) => parseIoReport(o === undefined ? '' : JSON.stringify(o));

describe('judgeDiscard', () => {
  it('agrees when the errno is the model\'s, refused or not', () => {
    expect(judgeDiscard(3, { errno: 0 }, 8192, report({ op: 'discard', ok: true, errno: 0 }))).toMatchObject({ result: { errno: 0 }, disagreements: [] });
    expect(judgeDiscard(3, { errno: 95 }, 8192, report({ op: 'discard', ok: false, errno: 95, error: 'EOPNOTSUPP' })).disagreements).toEqual([]);
  });

  it('names a discard that succeeded where the model refuses it, with the model\'s reason where it gives one', () => {
    expect(judgeDiscard(3, { errno: 95 }, 8192, report({ op: 'discard', ok: true, errno: 0 })).disagreements).toEqual([
      { step: 3, kind: 'discard', sector: 16, expected: 'errno 95', found: 'discard succeeded' }]);
    expect(judgeDiscard(3, { errno: 95, why: 'no allow_discards' }, 0, report({ op: 'discard', ok: true, errno: 0 })).disagreements[0]!.expected).toBe('errno 95 (no allow_discards)');
    expect(judgeDiscard(3, { errno: 0 }, 0, report({ op: 'discard', ok: false, errno: 5, error: 'EIO' })).disagreements).toEqual([
      { step: 3, kind: 'discard', sector: 0, expected: 'discard succeeds', found: 'errno 5 (EIO)' }]);
  });

  it('leaves a report without a discard line to the caller', () => {
    expect(judgeDiscard(3, { errno: 0 }, 0, report())).toEqual({ disagreements: [] });
  });
});

describe('judgeFlush', () => {
  it('wants the model\'s errno', () => {
    expect(judgeFlush(7, { errno: 0 }, report({ op: 'flush', ok: true, errno: 0 })).disagreements).toEqual([]);
    expect(judgeFlush(7, { errno: 0 }, report({ op: 'flush', ok: false, errno: 5, error: 'EIO' })).disagreements).toEqual([
      { step: 7, kind: 'flush', expected: 'flush succeeds', found: 'errno 5' }]);
    expect(judgeFlush(7, { errno: 5 }, report({ op: 'flush', ok: true, errno: 0 })).disagreements).toEqual([
      { step: 7, kind: 'flush', expected: 'errno 5', found: 'flush succeeded' }]);
    expect(judgeFlush(7, { errno: 0 }, report()).result).toBeUndefined();
  });
});
