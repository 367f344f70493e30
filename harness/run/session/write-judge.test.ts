import { describe, expect, it } from 'vitest';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { judgeWrite } from './write-judge.ts';

const line = (o: Record<string, unknown>) => JSON.stringify({ us: 1, ...o });
const report = (...lines: Array<Record<string, unknown>>) => parseIoReport(lines.map(line).join('\n'));
/** 16 KiB at byte 8192 in 4 KiB I/Os */
const REQ = { step: 4, offset: 8192, length: 16384, bs: 4096 };

describe('judgeWrite', () => {
  it('agrees with a write the model accepts that succeeded (ih-io logs failed I/Os only)', () => {
    expect(judgeWrite({ ok: true }, REQ, report(), 0)).toEqual({ disagreements: [], unexplainedExit: false });
  });

  it('names each I/O that failed, and a failed fsync at the start of the range, where the model accepts the write', () => {
    const j = judgeWrite({ ok: true }, REQ, report(
      { op: 'write', off: 12288, len: 4096, ok: false, errno: 5, error: 'EIO' },
      { op: 'fsync', ok: false, errno: 5, error: 'EIO' },
    ), 1);
    expect(j.disagreements).toEqual([
      { step: 4, kind: 'write-failed', sector: 24, expected: 'write succeeds', found: 'errno 5 (EIO)' },
      { step: 4, kind: 'write-failed', sector: 16, expected: 'fsync after the writes succeeds', found: 'errno 5 (EIO)' },
    ]);
    // the exit status is explained by what failed
    expect(j.unexplainedExit).toBe(false);
  });

  it('says when ih-io exited non-zero with nothing failed to explain it, and never for a write the model refuses', () => {
    expect(judgeWrite({ ok: true }, REQ, report(), 1).unexplainedExit).toBe(true);
    const all = [8192, 12288, 16384, 20480].map((off) => ({ op: 'write', off, len: 4096, ok: false, errno: 22, error: 'EINVAL' }));
    expect(judgeWrite({ ok: false, errno: 22 }, REQ, report(...all), 1)).toEqual({ disagreements: [], unexplainedExit: false });
  });

  it('a write the model refuses must fail in every I/O with the model\'s errno', () => {
    const j = judgeWrite({ ok: false, errno: 22 }, REQ, report(
      { op: 'write', off: 8192, len: 4096, ok: false, errno: 22, error: 'EINVAL' },
      { op: 'write', off: 12288, len: 4096, ok: false, errno: 5, error: 'EIO' },
    ), 1);
    expect(j.disagreements).toEqual([
      { step: 4, kind: 'write-accepted', sector: 16, expected: 'all 4 write(s) fail with errno 22', found: '2 succeeded' },
      { step: 4, kind: 'wrong-errno', sector: 24, expected: 'errno 22', found: 'errno 5 (EIO)' },
    ]);
  });

  it('a failed read of the payload disk is the harness\'s, and judges nothing', () => {
    const j = judgeWrite({ ok: true }, REQ, report(
      { op: 'read', off: 0, len: 4096, ok: false, errno: 5, error: 'EIO' },
      { op: 'write', off: 8192, len: 4096, ok: false, errno: 5, error: 'EIO' },
    ), 1);
    expect(j.sourceFailed).toMatchObject({ op: 'read', off: 0, errno: 5 });
    expect(j.disagreements).toEqual([]);
  });
});

