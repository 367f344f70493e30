import { describe, expect, it } from 'vitest';
import { DEFAULT_KERNEL, parseMatrixArgs } from './config.ts';
import { UsageError } from './errors.ts';

describe('parseMatrixArgs', () => {
  it('defaults to the Debian 6.1 kernel and freezes the result', () => {
    const cfg = parseMatrixArgs([], {});
    expect(DEFAULT_KERNEL).toBe('6.1');
    expect(cfg.kernels.map((k) => k.text)).toEqual(['6.1']);
    expect(cfg.jobs).toBeGreaterThanOrEqual(1);
    expect(Object.isFrozen(cfg)).toBe(true);
  });
  it('collects repeated --kernel and --scenario', () => {
    const cfg = parseMatrixArgs(['--kernel', '6.1', '-k', '6.12', '--scenario', 'integrity/*', '-s', 'crypt/*', '--jobs', '2'], {});
    expect(cfg.kernels.map((k) => k.kind)).toEqual(['alias', 'alias']);
    expect(cfg.scenarioGlobs).toEqual(['integrity/*', 'crypt/*']);
    expect(cfg.jobs).toBe(2);
  });
  it('rejects bad values with a UsageError naming the option', () => {
    expect(() => parseMatrixArgs(['--jobs', '0'], {})).toThrow(UsageError);
    expect(() => parseMatrixArgs(['--jobs', 'two'], {})).toThrow(/--jobs expects a positive integer, got 'two'/);
    expect(() => parseMatrixArgs(['--kernel', 'newest'], {})).toThrow(/--kernel newest/);
    expect(() => parseMatrixArgs(['--frobnicate'], {})).toThrow(/unknown option '--frobnicate'/);
    expect(() => parseMatrixArgs([], { IH_ACCEL: 'hvf' })).toThrow(/IH_ACCEL=hvf: expected tcg or kvm/);
  });
});
