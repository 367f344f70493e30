/**
 * The byte shuffling around gcm-run.ts's native AES and GHASH calls, as WebAssembly SIMD: per 512-byte
 * sector it is dozens of 16-byte moves, and a JS loop over typed arrays does them ten times slower
 * (~3 GB/s against memory speed). Three functions over one memory, assembled by hand below:
 * - fill: the AES-ECB input of a run, every sector's counter blocks IV || be32(2 + j), then its J0 IV || be32(1);
 * - ghashInput: the run laid out for one GHASH that checks every sector's tag at once (see gcm-run.ts);
 * - xor: out = a ^ b (the keystream and the ciphertext).
 * The JS references in gcm-simd.test.ts say the same in plain loops.
 */

const uleb = (v: number): number[] => (v < 0x80 ? [v] : [(v & 0x7f) | 0x80, ...uleb(v >>> 7)]);
const sleb = (v: number): number[] => (v >= -64 && v < 64 ? [v & 0x7f] : [(v & 0x7f) | 0x80, ...sleb(v >> 7)]);

// the instructions used, as bytes
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const i32 = (v: number) => [0x41, ...sleb(v)];
const i64zero = [0x42, 0x00];
const [I32_ADD, I32_SUB, I32_SHL, I32_EQZ, I32_LT_U] = [0x6a, 0x6b, 0x74, 0x45, 0x49];
const [I64_ADD, I64_EXTEND_I32_U, I64_TRUNC_F64_U] = [0x7c, 0xad, 0xb1];
const i64Load = (off: number) => [0x29, 0x00, ...uleb(off)];
const i64Load32U = (off: number) => [0x35, 0x00, ...uleb(off)];
const i64Store = (off: number) => [0x37, 0x00, ...uleb(off)];
const v128Load = (off: number) => [0xfd, 0x00, 0x00, ...uleb(off)];
const v128Store = (off: number) => [0xfd, 0x0b, 0x00, ...uleb(off)];
const [V128_AND, V128_OR, V128_XOR] = [[0xfd, 0x4e], [0xfd, 0x50], [0xfd, 0x51]];
/** lanes 0-2 kept, lane 3 (bytes 12..16, the counter word) cleared */
const IV_MASK = [0xfd, 0x0c, ...Array<number>(12).fill(0xff), 0, 0, 0, 0];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (depth: number) => [0x0c, depth];
const brIf = (depth: number) => [0x0d, depth];
/** x += k for an i32 local */
const bump = (x: number, k: number) => [...get(x), ...i32(k), I32_ADD, ...set(x)];
const bumpBy = (x: number, y: number) => [...get(x), ...get(y), I32_ADD, ...set(x)];
/** while (n) { body; n-- } */
const countDown = (n: number, body: number[]) => [...BLOCK, ...LOOP, ...get(n), I32_EQZ, ...brIf(1), ...body, ...get(n), ...i32(1), I32_SUB, ...set(n), ...br(0), ...END, ...END];
const [I32, I64, F64, V128] = [0x7f, 0x7e, 0x7c, 0x7b];
const locals = (...types: number[]) => [...uleb(types.length), ...types.flatMap((t) => [1, t])];

/**
 * fill(ctr, tags, ts, n, B, table): for each of n tuples (stride ts, IV at +16), B blocks IV | table[j] at ctr,
 * then after all of them the n J0 blocks IV | table[B]. table[j] holds be32(2 + j) in bytes 12..16, table[B] be32(1).
 * B is a multiple of 4 (sectors are whole 512 bytes: B >= 32).
 */
const FILL = (() => {
  const [ctr, tags, ts, n, B, table] = [0, 1, 2, 3, 4, 5];
  const [j0, tEnd, t, v] = [6, 7, 8, 9];
  const store4 = [0, 16, 32, 48].flatMap((o) => [...get(ctr), ...get(v), ...get(t), ...v128Load(o), ...V128_OR, ...v128Store(o)]);
  return [
    ...locals(I32, I32, I32, V128),
    ...get(ctr), ...get(n), ...get(B), 0x6c /* i32.mul */, ...i32(4), I32_SHL, I32_ADD, ...set(j0),
    ...get(table), ...get(B), ...i32(4), I32_SHL, I32_ADD, ...set(tEnd),
    ...countDown(n, [
      ...get(tags), ...v128Load(16), ...IV_MASK, ...V128_AND, ...set(v),
      ...get(j0), ...get(v), ...get(tEnd), ...v128Load(0), ...V128_OR, ...v128Store(0),
      ...bump(j0, 16),
      ...get(table), ...set(t),
      ...LOOP, ...store4, ...bump(ctr, 64), ...get(t), ...i32(64), I32_ADD, ...tee(t), ...get(tEnd), I32_LT_U, ...brIf(0), ...END,
      ...bumpBy(tags, ts),
    ]),
    ...END,
  ];
})();

/**
 * ghashInput(z, data, tags, ej0, n, B, s0, step, ts, lenBlock): per sector i, B + 4 blocks at z:
 * a1 = le64(s0 + i step) || IV[0..8], a2 = IV[8..12] || 0^12, the B ciphertext blocks, the length block,
 * and tag ^ E_K(J0) (ej0: n blocks). s0 is an f64 (a JS number below 2^53).
 */
const GHASH_INPUT = (() => {
  const [z, data, tags, ej0, n, B, s0, step, ts, lenBlock] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [sector, dEnd] = [10, 11];
  const copy4 = [0, 16, 32, 48].flatMap((o) => [...get(z), ...get(data), ...v128Load(o), ...v128Store(o)]);
  return [
    ...locals(I64, I32),
    ...get(s0), I64_TRUNC_F64_U, ...set(sector),
    ...countDown(n, [
      ...get(z), ...get(sector), ...i64Store(0),
      ...get(z), ...get(tags), ...i64Load(16), ...i64Store(8),
      ...get(z), ...get(tags), ...i64Load32U(24), ...i64Store(16),
      ...get(z), ...i64zero, ...i64Store(24),
      ...bump(z, 32),
      ...get(data), ...get(B), ...i32(4), I32_SHL, I32_ADD, ...set(dEnd),
      ...LOOP, ...copy4, ...bump(z, 64), ...get(data), ...i32(64), I32_ADD, ...tee(data), ...get(dEnd), I32_LT_U, ...brIf(0), ...END,
      ...get(z), ...get(lenBlock), ...v128Load(0), ...v128Store(0),
      ...get(z), ...get(tags), ...v128Load(0), ...get(ej0), ...v128Load(0), ...V128_XOR, ...v128Store(16),
      ...bump(z, 32), ...bumpBy(tags, ts), ...bump(ej0, 16),
      ...get(sector), ...get(step), I64_EXTEND_I32_U, I64_ADD, ...set(sector),
    ]),
    ...END,
  ];
})();

/** xor(dst, a, b, bytes): dst = a ^ b, 64 bytes an iteration (bytes a multiple of 64); dst may be a */
const XOR = (() => {
  const [dst, a, b, bytes] = [0, 1, 2, 3];
  const xor4 = [0, 16, 32, 48].flatMap((o) => [...get(dst), ...get(a), ...v128Load(o), ...get(b), ...v128Load(o), ...V128_XOR, ...v128Store(o)]);
  return [
    ...locals(),
    ...BLOCK, ...LOOP, ...get(bytes), I32_EQZ, ...brIf(1),
    ...xor4, ...bump(dst, 64), ...bump(a, 64), ...bump(b, 64), ...get(bytes), ...i32(64), I32_SUB, ...set(bytes),
    ...br(0), ...END, ...END,
    ...END,
  ];
})();

const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const funcType = (params: number[]) => [0x60, ...uleb(params.length), ...params, 0x00];
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s)];
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  ...section(1, vec([funcType(Array(6).fill(I32)), funcType([I32, I32, I32, I32, I32, I32, F64, I32, I32, I32]), funcType(Array(4).fill(I32))])),
  ...section(3, vec([[0], [1], [2]])),
  ...section(5, vec([[0x00, 0x01]])), // one memory, at least one page
  ...section(7, vec([[...name('m'), 0x02, 0], [...name('fill'), 0x00, 0], [...name('ghashInput'), 0x00, 1], [...name('xor'), 0x00, 2]])),
  ...section(10, vec([FILL, GHASH_INPUT, XOR].map((body) => [...uleb(body.length), ...body]))),
]);

export interface GcmSimd {
  memory: WebAssembly.Memory;
  fill(ctr: number, tags: number, ts: number, n: number, blocks: number, table: number): void;
  ghashInput(z: number, data: number, tags: number, ej0: number, n: number, blocks: number, s0: number, step: number, ts: number, lenBlock: number): void;
  xor(dst: number, a: number, b: number, bytes: number): void;
}

/** A fresh instance (its own memory), or undefined where WebAssembly SIMD is missing. */
export function gcmSimd(): GcmSimd | undefined {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(MODULE)) return undefined;
  const e = new WebAssembly.Instance(new WebAssembly.Module(MODULE)).exports as unknown as { m: WebAssembly.Memory } & Omit<GcmSimd, 'memory'>;
  return { memory: e.m, fill: e.fill, ghashInput: e.ghashInput, xor: e.xor };
}
