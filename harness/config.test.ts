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
  it('runs the default library unless --slow', () => {
    expect(parseMatrixArgs([], {}).slow).toBe(false);
    expect(parseMatrixArgs(['--slow'], {}).slow).toBe(true);
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

describe('parseMatrixArgs: repetition, sharding and baseline options', () => {
  it('defaults to one execution per cell, no retries, no shard, no baseline', () => {
    const cfg = parseMatrixArgs([], {});
    expect(cfg).toMatchObject({ repeat: 1, retries: 0 });
    expect(cfg.shard).toBeUndefined();
    expect(cfg.baseline).toBeUndefined();
  });
  it('reads --repeat, --retries, --shard and --baseline', () => {
    const cfg = parseMatrixArgs(['--repeat', '3', '--retries', '2', '--shard', '2/5', '--baseline', '/tmp/run'], {});
    expect(cfg).toMatchObject({ repeat: 3, retries: 2, shard: { index: 2, total: 5 }, baseline: '/tmp/run' });
  });
  it('rejects bad values naming the option', () => {
    expect(() => parseMatrixArgs(['--repeat', '0'], {})).toThrow("--repeat expects a positive integer, got '0'");
    expect(() => parseMatrixArgs(['--retries', '-1'], {})).toThrow("--retries expects a non-negative integer, got '-1'");
    expect(() => parseMatrixArgs(['--shard', '3/2'], {})).toThrow("--shard expects i/n with 1 <= i <= n (e.g. 1/4), got '3/2'");
  });
});
