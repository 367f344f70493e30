import { describe, expect, it } from 'vitest';
import { readExtents } from './crash-check.ts';

describe('readExtents', () => {
  it('covers every touched block, bridging gaps under the limit', () => {
    expect(readExtents([0, 1, 2, 10, 5000], 512, 4 << 20, 8192)).toEqual([[0, 5632], [5000 * 512, 512]]);
    expect(readExtents([], 512, 1 << 20)).toEqual([]);
    expect(readExtents([7], 4096, 32768)).toEqual([[28672, 4096]]);
  });
});
