import { describe, expect, it } from 'vitest';
import { exitCodeForSummary } from './verdict/exit-code.ts';
import type { CellRecord, KernelRecord, Summary } from './results.ts';
import type { Verdict } from './verdict/types.ts';
import { untestedKernels, untestedLine } from './untested.ts';

const ok = (spec: string, label = `${spec}.0-amd64`): KernelRecord => ({ spec, label, status: 'ok' });
const cell = (spec: string, scenario: string, verdict: Verdict, reason = `${verdict} here`, extra: Partial<CellRecord> = {}): CellRecord =>
  ({ id: `${spec}/${scenario}`, kernel: spec, kernelSpec: spec, scenario, verdict, reason, durationMs: 1, dir: '', ...extra });
const run = (kernels: KernelRecord[], cells: CellRecord[]): Pick<Summary, 'kernels' | 'cells'> => ({ kernels, cells });

describe('untested kernels and the exit code CI relies on', () => {
  it('a typo kernel next to a good one: named once, 125 although every cell that ran passed', () => {
    const s = run([ok('6.1'), { spec: '6.13', label: '6.13', status: 'unavailable', message: 'no Debian package linux-image-6.13.*-amd64-unsigned' }],
      [cell('6.1', 'integrity/001', 'pass'), cell('6.13', 'integrity/001', 'skip', 'no Debian package'), cell('6.13', 'integrity/002', 'skip', 'no Debian package')]);
    expect(untestedKernels(s)).toEqual([{ kernel: '6.13', reason: 'could not be had: no Debian package linux-image-6.13.*-amd64-unsigned' }]);
    expect(exitCodeForSummary(s)).toBe(125);
    expect(untestedLine(untestedKernels(s)[0]!)).toBe('NOT TESTED kernel 6.13: could not be had: no Debian package linux-image-6.13.*-amd64-unsigned');
  });

  it('a patch that did not apply: the patched kernel did not build, 125', () => {
    const s = run([ok('src:6.1', '6.1.158'), { spec: 'src:6.1 --patch bad.patch', label: 'src-6.1+bad', status: 'build-failed', message: 'patch bad.patch does not apply\nhunk 1 FAILED' }],
      [cell('src:6.1', 'a', 'pass'), cell('src:6.1 --patch bad.patch', 'a', 'skip')]);
    expect(untestedKernels(s)).toEqual([{ kernel: 'src:6.1 --patch bad.patch', label: 'src-6.1+bad', reason: 'did not build: patch bad.patch does not apply hunk 1 FAILED' }]);
    expect(exitCodeForSummary(s)).toBe(125);
  });

  it("a guest that could not load a module: the kernel's cells are error with the guest's reason, 125", () => {
    const why = 'kernel not tested: the guest could not load module(s) the stacks need: dm_integrity: not found';
    const s = run([ok('6.1')], [cell('6.1', 'a', 'error', why), cell('6.1', 'b', 'error', why)]);
    expect(untestedKernels(s)).toEqual([{ kernel: '6.1', label: '6.1.0-amd64', reason: 'the guest could not load module(s) the stacks need: dm_integrity: not found' }]);
    expect(exitCodeForSummary(s)).toBe(125);
  });

  it('a real failure on one kernel still makes it 1 beside an untested one', () => {
    const s = run([ok('6.1'), { spec: '6.13', status: 'unavailable', message: 'x' }], [cell('6.1', 'a', 'fail'), cell('6.13', 'a', 'skip')]);
    expect(untestedKernels(s)).toHaveLength(1);
    expect(exitCodeForSummary(s)).toBe(1);
  });

  it('a legitimate requirement skip beside passes leaves the kernel tested: 0', () => {
    const s = run([ok('6.1')], [cell('6.1', 'a', 'pass'), cell('6.1', 'b', 'skip', 'kernel lacks sha256 (no module ...)')]);
    expect(untestedKernels(s)).toEqual([]);
    expect(exitCodeForSummary(s)).toBe(0);
  });

  it('a kernel on which every cell skipped was not tested, even when another kernel passed', () => {
    const s = run([ok('6.1'), ok('4.9')], [cell('6.1', 'a', 'pass'), cell('4.9', 'a', 'skip', 'needs kernel >= 5.4, this is 4.9.0'), cell('4.9', 'b', 'skip', 'needs kernel >= 5.4')]);
    expect(untestedKernels(s)).toEqual([{ kernel: '4.9', label: '4.9.0-amd64', reason: 'every cell (2) skipped; first: 4.9/a: needs kernel >= 5.4, this is 4.9.0' }]);
    expect(exitCodeForSummary(s)).toBe(125);
  });

  it('a shard dealt no cell of a kernel asks nothing of it; compat cells of a gate are no kernel\'s own', () => {
    expect(untestedKernels(run([ok('6.1'), ok('6.12')], [cell('6.1', 'a', 'pass')]))).toEqual([]);
    const compat = cell('6.12', 'compat/x', 'pass', 'ok', { gate: { role: 'compat', writer: 'base', reader: 'candidate' } });
    expect(untestedKernels(run([ok('6.12')], [compat, cell('6.12', 'a', 'skip')]))).toHaveLength(1);
  });

  it('an incomplete merge is 125 unless a failure makes it 1', () => {
    expect(exitCodeForSummary({ ...run([ok('6.1')], [cell('6.1', 'a', 'pass')]), incomplete: ['shard 2/2 not among the merged runs'] })).toBe(125);
    expect(exitCodeForSummary({ ...run([ok('6.1')], [cell('6.1', 'a', 'crash')]), incomplete: ['shard 2/2 not among the merged runs'] })).toBe(1);
  });
});
