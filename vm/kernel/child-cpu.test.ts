import { execaSync } from 'execa';
import { describe, expect, it } from 'vitest';
import { childCpuMs } from './child-cpu.ts';

describe('childCpuMs', () => {
  it('reads cutime + cstime even when the command name has spaces and parentheses', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 30 170 30 20 0 11 0 123 456 789';
    expect(childCpuMs(stat)).toBe(2000);
  });

  it('grows by the CPU a reaped child used', () => {
    const before = childCpuMs();
    execaSync('sh', ['-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done']);
    expect(childCpuMs() - before).toBeGreaterThan(0);
  });

  it('is NaN for text that is not a stat line', () => {
    expect(childCpuMs('garbage')).toBeNaN();
  });
});
