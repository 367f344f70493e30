import { describe, expect, it } from 'vitest';
import type { GuestExit } from '../../vm/qemu/guest.ts';
import { judgeExecution, SILENT_RESET, type ExecutionEvidence } from './execution.ts';
import type { Disagreement } from './types.ts';

const evidence = (e: Partial<ExecutionEvidence>): ExecutionEvidence =>
  ({ scenarioId: 'integrity/001', disagreements: [], outcome: undefined, steps: 4, consoleText: '', qemuStderr: '', ...e });
const readData: Disagreement = { step: 3, kind: 'read-data', block: 7, expected: 'pattern', found: 'zeros' };
const OOPS = '[1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[1.0] RIP: 0010:f+0x1/0x2\n';

describe('judgeExecution: an error keeps what the model found before it', () => {
  it('names the disagreements recorded before an infrastructure error in the reason; the verdict stays error', () => {
    const j = judgeExecution(evidence({
      disagreements: [readData, { step: 4, kind: 'mismatch-count', expected: '1', found: '0' }],
      outcome: { verdict: 'error', reason: "agent failed running 'dmsetup remove'" },
    }));
    expect(j.verdict).toBe('error');
    expect(j.reason).toBe("agent failed running 'dmsetup remove'; before it, 2 disagreement(s) with the model (disagreements.json); first: step 3 read-data block 7: expected pattern, found zeros");
  });

  it('an error without disagreements says only the error, then what QEMU said', () => {
    expect(judgeExecution(evidence({ outcome: { verdict: 'error', reason: 'QEMU exited' } }))).toEqual({ verdict: 'error', reason: 'QEMU exited' });
    expect(judgeExecution(evidence({ outcome: { verdict: 'error', reason: 'QEMU exited' }, qemuStderr: 'qemu: could not open disk\n' })))
      .toEqual({ verdict: 'error', reason: 'QEMU exited; qemu: qemu: could not open disk' });
  });
});

describe('judgeExecution: a scenario that becomes untestable part way', () => {
  it('is a fail when the kernel disagreed with the model before, with the skip reason after', () => {
    const j = judgeExecution(evidence({
      disagreements: [{ step: 2, kind: 'silent-acceptance', block: 5, expected: 'errno 84', found: 'read succeeded' }],
      outcome: { verdict: 'skip', reason: 'the journal is not cleared at suspend' },
    }));
    expect(j.verdict).toBe('fail');
    expect(j.signature).toBe('integrity/001: silent-acceptance');
    expect(j.reason).toMatch(/^1 disagreement\(s\) with the model; first: step 2 silent-acceptance block 5: .* \(then the rest was skipped: the journal is not cleared at suspend\)$/);
  });

  it('stays a skip when nothing disagreed before it', () => {
    expect(judgeExecution(evidence({ outcome: { verdict: 'skip', reason: 'kernel lacks dm-dust' } }))).toMatchObject({ verdict: 'skip', reason: 'kernel lacks dm-dust' });
  });
});

describe('judgeExecution: the order of the evidence', () => {
  it('passes only with nothing found, saying how many steps agreed', () => {
    expect(judgeExecution(evidence({}))).toEqual({ verdict: 'pass', reason: '4 steps agree with the model' });
  });
  it('a crash on the console wins over a hang and over disagreements', () => {
    const j = judgeExecution(evidence({ disagreements: [readData], outcome: { verdict: 'hang', reason: "'ih-io read' did not answer within 20s" }, consoleText: OOPS }));
    expect(j.verdict).toBe('crash');
    expect(j.signature).toMatch(/NULL pointer dereference/);
  });
  it('a guest that reset itself while the harness talked to it is a crash with the silent-reset signature', () => {
    const exit: GuestExit = { exitCode: 0, signal: null, stderr: '', endedBy: 'guest', shutdownReason: 'guest-reset' };
    const j = judgeExecution(evidence({ outcome: { verdict: 'error', reason: 'QEMU exited', guestGone: true }, exit }));
    expect(j).toMatchObject({ verdict: 'crash', signature: SILENT_RESET });
  });
  it('a fail from a step keeps its own reason and gets a signature from it', () => {
    const j = judgeExecution(evidence({ outcome: { verdict: 'fail', reason: "'dmsetup create' exited 1: device busy" } }));
    expect(j).toEqual({ verdict: 'fail', reason: "'dmsetup create' exited 1: device busy", signature: "integrity/001: 'dmsetup create' exited 1" });
  });
});
