import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { xorArena } from './xor-simd.ts';

describe('xorArena', () => {
  it('runs the WebAssembly SIMD module (Node 20 has it) and XORs exactly n bytes, tails included', () => {
    const size = 4096 + 100;
    const x = xorArena(size);
    expect(x.a.buffer).toBeInstanceOf(ArrayBuffer);
    expect(x.a.buffer).toBe(x.out.buffer); // one WebAssembly memory, not the JS fallback's three buffers
    for (const n of [0, 64, 100, 4096, 4096 + 64 + 7]) {
      const a = randomBytes(n), b = randomBytes(n);
      a.copy(x.a);
      b.copy(x.b);
      x.out.fill(0xaa);
      x.xor(n);
      const want = Buffer.alloc(n);
      for (let i = 0; i < n; i++) want[i] = a[i]! ^ b[i]!;
      expect(x.out.subarray(0, n).equals(want)).toBe(true);
      expect(x.out.subarray(n, n + 1).equals(n < x.out.length ? Buffer.from([0xaa]) : Buffer.alloc(0))).toBe(true);
    }
  });
});
