import { describe, expect, it } from 'vitest';
import { decideBisectExit, type BisectCell } from './bisect.ts';

const cell = (verdict: BisectCell['verdict'], extra: Partial<BisectCell> = {}): BisectCell => ({ id: `k/s-${verdict}`, verdict, booted: true, ...extra });
const NULL_DEREF = 'BUG: kernel NULL pointer dereference @ bio_integrity_process';

describe('decideBisectExit', () => {
  it('is good when every cell passes, or passes and a scenario whose failure is not sought skips', () => {
    expect(decideBisectExit({ kind: 'cells', cells: [cell('pass'), cell('pass')] }).code).toBe(0);
    const other = cell('skip', { id: 'k/crypt/002', scenario: 'crypt/002' });
    expect(decideBisectExit({ kind: 'cells', cells: [cell('pass'), other] }, [NULL_DEREF], ['crypt/001']).code).toBe(0);
    expect(decideBisectExit({ kind: 'cells', cells: [cell('pass'), other] }, ['crypt/001: data-mismatch']).code).toBe(0);
  });

  it('never calls good a step where the sought scenario skipped (or its kernel went untested): 125', () => {
    const skipped = cell('skip', { id: 'k/crypt/001', scenario: 'crypt/001', reason: 'kernel lacks gcm' });
    for (const [sigs, sought] of [[[NULL_DEREF], ['crypt/001']], [['crypt/001: data-mismatch'], []], [[], []]] as const) {
      const d = decideBisectExit({ kind: 'cells', cells: [cell('pass'), skipped] }, sigs, sought);
      expect(d).toMatchObject({ code: 125, reason: 'cannot test this commit, a sought scenario skipped: k/crypt/001 skip: kernel lacks gcm' });
    }
    const untested = cell('error', { reason: 'kernel not tested: the guest could not load module(s) the stacks need: dm_crypt: gone' });
    expect(decideBisectExit({ kind: 'cells', cells: [untested, cell('pass')] })).toMatchObject({ code: 125, reason: expect.stringContaining('kernel not tested: the guest could not load') });
  });

  it('is bad when a booted cell fails, crashes or hangs', () => {
    for (const v of ['fail', 'crash', 'hang'] as const) {
      const d = decideBisectExit({ kind: 'cells', cells: [cell('pass'), cell(v)] });
      expect(d.code).toBe(1);
      expect(d.reason).toContain(`k/s-${v} ${v}`);
    }
  });

  it('skips a commit that did not build, hit an infrastructure error, or ran nothing', () => {
    expect(decideBisectExit({ kind: 'build-failed', message: 'make bzImage exited 2' })).toMatchObject({ code: 125, reason: expect.stringContaining('did not build') });
    expect(decideBisectExit({ kind: 'infra', message: 'qemu died' }).code).toBe(125);
    expect(decideBisectExit({ kind: 'cells', cells: [] }).code).toBe(125);
    expect(decideBisectExit({ kind: 'cells', cells: [cell('skip'), cell('skip')] }).code).toBe(125);
    expect(decideBisectExit({ kind: 'cells', cells: [cell('pass'), cell('error')] }).code).toBe(125);
  });

  it('skips a kernel that does not boot, unless its failure is the one sought', () => {
    const unbooted = cell('crash', { booted: false, signature: 'Kernel panic - not syncing: VFS' });
    expect(decideBisectExit({ kind: 'cells', cells: [unbooted] }).code).toBe(125);
    expect(decideBisectExit({ kind: 'cells', cells: [cell('hang', { booted: false })] }).reason).toContain('did not boot');
    expect(decideBisectExit({ kind: 'cells', cells: [unbooted] }, ['Kernel panic - not syncing: VFS']).code).toBe(1);
  });

  it('with signatures, only the same failure is bad; a different one is skipped', () => {
    const sought = cell('crash', { signature: NULL_DEREF });
    const other = cell('fail', { signature: 'integrity/001: data-mismatch' });
    expect(decideBisectExit({ kind: 'cells', cells: [sought] }, [NULL_DEREF]).code).toBe(1);
    expect(decideBisectExit({ kind: 'cells', cells: [other, cell('pass')] }, [NULL_DEREF])).toMatchObject({ code: 125, reason: expect.stringContaining('fails differently') });
    expect(decideBisectExit({ kind: 'cells', cells: [other, sought] }, [NULL_DEREF]).code).toBe(1);
    expect(decideBisectExit({ kind: 'cells', cells: [cell('pass')] }, [NULL_DEREF]).code).toBe(0);
  });

  it('aborts on a usage error with 255, the only code above 127', () => {
    expect(decideBisectExit({ kind: 'usage', message: '--tree expects a value' }).code).toBe(255);
  });
});
