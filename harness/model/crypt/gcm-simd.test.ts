import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { gcmSimd } from './gcm-simd.ts';

/** JS references: what each function must write, byte for byte. */
function fillRef(tags: Buffer, ts: number, n: number, B: number): Buffer {
  const out = Buffer.alloc((n * B + n) * 16);
  for (let i = 0; i < n; i++) {
    const iv = tags.subarray(i * ts + 16, i * ts + 28);
    for (let j = 0; j < B; j++) {
      iv.copy(out, (i * B + j) * 16);
      out.writeUInt32BE(2 + j, (i * B + j) * 16 + 12);
    }
    iv.copy(out, (n * B + i) * 16);
    out.writeUInt32BE(1, (n * B + i) * 16 + 12);
  }
  return out;
}

function ghashInputRef(data: Buffer, tags: Buffer, ej0: Buffer, n: number, B: number, s0: number, step: number, ts: number, lenBlock: Buffer): Buffer {
  const out = Buffer.alloc(n * (B + 4) * 16);
  for (let i = 0; i < n; i++) {
    const z = i * (B + 4) * 16;
    const t = tags.subarray(i * ts, i * ts + 28);
    out.writeBigUInt64LE(BigInt(s0 + i * step), z);
    t.copy(out, z + 8, 16, 28);
    data.copy(out, z + 32, i * B * 16, (i + 1) * B * 16);
    lenBlock.copy(out, z + 32 + B * 16);
    for (let k = 0; k < 16; k++) out[z + 48 + B * 16 + k] = t[k]! ^ ej0[i * 16 + k]!;
  }
  return out;
}

describe('gcmSimd', () => {
  const simd = gcmSimd()!;
  simd.memory.grow(64);
  const mem = () => Buffer.from(simd.memory.buffer);

  it('is there (Node 20 has WebAssembly SIMD)', () => {
    expect(simd).toBeDefined();
  });

  it('fill writes every counter block and J0 of the run like the JS reference', () => {
    for (const [B, ts, n] of [[32, 28, 1], [32, 28, 7], [256, 28, 3], [64, 32, 5]] as const) {
      const table = 0;
      const t = Buffer.alloc((B + 1) * 16);
      for (let j = 0; j < B; j++) t.writeUInt32BE(2 + j, j * 16 + 12);
      t.writeUInt32BE(1, B * 16 + 12);
      const tagsAt = 8192, ctrAt = 65536;
      const tags = randomBytes(n * ts + 16);
      const m = mem();
      t.copy(m, table);
      tags.copy(m, tagsAt);
      m.fill(0xaa, ctrAt, ctrAt + (n * B + n + 1) * 16);
      simd.fill(ctrAt, tagsAt, ts, n, B, table);
      expect(m.subarray(ctrAt, ctrAt + (n * B + n) * 16).equals(fillRef(tags, ts, n, B))).toBe(true);
      expect(m[ctrAt + (n * B + n) * 16]).toBe(0xaa); // nothing past the run
    }
  });

  it('ghashInput lays out a1, a2, the ciphertext, the length block and tag ^ E(J0) per sector like the JS reference', () => {
    for (const [B, ts, n, s0, step] of [[32, 28, 1, 0, 1], [32, 28, 9, 2 ** 40 + 5, 1], [256, 28, 3, 2 ** 33, 8], [64, 32, 4, 77, 2]] as const) {
      const m = mem();
      const [dataAt, tagsAt, ejAt, lenAt, zAt] = [0, 1 << 20, (1 << 20) + 8192, (1 << 20) + 16384, 2 << 20];
      const data = randomBytes(n * B * 16), tags = randomBytes(n * ts + 16), ej0 = randomBytes(n * 16), len = randomBytes(16);
      data.copy(m, dataAt); tags.copy(m, tagsAt); ej0.copy(m, ejAt); len.copy(m, lenAt);
      const size = n * (B + 4) * 16;
      m.fill(0xaa, zAt, zAt + size + 16);
      simd.ghashInput(zAt, dataAt, tagsAt, ejAt, n, B, s0, step, ts, lenAt);
      expect(m.subarray(zAt, zAt + size).equals(ghashInputRef(data, tags, ej0, n, B, s0, step, ts, len))).toBe(true);
      expect(m[zAt + size]).toBe(0xaa);
    }
  });

  it('xor XORs exactly the given bytes, in place too', () => {
    const m = mem();
    for (const n of [0, 64, 4096, 65536 + 64]) {
      const a = randomBytes(n), b = randomBytes(n);
      a.copy(m, 0); b.copy(m, 1 << 20);
      m.fill(0xaa, 2 << 20, (2 << 20) + n + 64);
      simd.xor(2 << 20, 0, 1 << 20, n);
      const want = Buffer.alloc(n);
      for (let i = 0; i < n; i++) want[i] = a[i]! ^ b[i]!;
      expect(m.subarray(2 << 20, (2 << 20) + n).equals(want)).toBe(true);
      expect(m[(2 << 20) + n]).toBe(0xaa);
      simd.xor(0, 0, 1 << 20, n);
      expect(m.subarray(0, n).equals(want)).toBe(true);
    }
  });
});
