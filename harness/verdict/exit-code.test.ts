import { describe, expect, it } from 'vitest';
import { exitCodeFor } from './exit-code.ts';

describe('exitCodeFor (git bisect run reads 0 good, 125 skip, 1-127 bad)', () => {
  it('is 0 when every cell passed, or some passed and the rest were skipped', () => {
    expect(exitCodeFor(['pass'])).toBe(0);
    expect(exitCodeFor(['pass', 'skip'])).toBe(0);
  });
  it('is 1 when any cell failed, crashed or hung, even beside errors', () => {
    for (const bad of ['fail', 'crash', 'hang'] as const) {
      expect(exitCodeFor(['pass', bad])).toBe(1);
      expect(exitCodeFor(['error', bad, 'skip'])).toBe(1);
    }
  });
  it('is 125 when the kernel could not be fully judged', () => {
    expect(exitCodeFor(['pass', 'error'])).toBe(125);
    expect(exitCodeFor(['skip', 'skip'])).toBe(125);
    expect(exitCodeFor([])).toBe(125);
  });
});
