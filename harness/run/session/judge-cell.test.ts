import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Guest } from '../../../vm/qemu/guest.ts';
import type { Scenario } from '../../scenario/load.ts';
import { GuestSession, judgeCell } from './cell.ts';

const session = () => new GuestSession({} as Guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-judge-')), 'steps.jsonl'));
const spec = { scenario: { id: 'integrity/001' } as Scenario };

describe('judgeCell: an error keeps what the model found before it', () => {
  it('names the disagreements recorded before an infrastructure error in the reason; the verdict stays error', () => {
    const s = session();
    s.disagree({ step: 3, kind: 'read-data', block: 7, expected: 'pattern', found: 'zeros' });
    s.disagree({ step: 4, kind: 'mismatch-count', expected: '1', found: '0' });
    const j = judgeCell(spec, s, { verdict: 'error', reason: "agent failed running 'dmsetup remove'" }, '', '');
    expect(j.verdict).toBe('error');
    expect(j.reason).toBe("agent failed running 'dmsetup remove'; before it, 2 disagreement(s) with the model (disagreements.json); first: step 3 read-data block 7: expected pattern, found zeros");
  });

  it('an error without disagreements says only the error', () => {
    const j = judgeCell(spec, session(), { verdict: 'error', reason: 'QEMU exited' }, '', '');
    expect(j).toEqual({ verdict: 'error', reason: 'QEMU exited' });
  });
});

describe('judgeCell: a scenario that becomes untestable part way', () => {
  it('is a fail when the kernel disagreed with the model before, with the skip reason after', () => {
    const s = session();
    s.disagree({ step: 2, kind: 'silent-acceptance', block: 5, expected: 'errno 84', found: 'read succeeded' });
    const j = judgeCell(spec, s, { verdict: 'skip', reason: 'the journal is not cleared at suspend' }, '', '');
    expect(j.verdict).toBe('fail');
    expect(j.reason).toMatch(/^1 disagreement\(s\) with the model; first: step 2 silent-acceptance block 5: .* \(then the rest was skipped: the journal is not cleared at suspend\)$/);
  });

  it('stays a skip when nothing disagreed before it', () => {
    expect(judgeCell(spec, session(), { verdict: 'skip', reason: 'kernel lacks dm-dust' }, '', '')).toMatchObject({ verdict: 'skip', reason: 'kernel lacks dm-dust' });
  });
});
