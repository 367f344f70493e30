/**
 * BLAKE2b (RFC 7693) with any digest length from 1 to 64 bytes and an optional key of up to 64 bytes, as the
 * kernel's crypto/blake2b_generic.c registers it: "blake2b-160", "blake2b-256", "blake2b-384" and
 * "blake2b-512" are four parameterisations (the digest length is in the parameter block, so blake2b-256 is
 * not a truncated blake2b-512), each keyed by setkey() with 1..64 bytes (CRYPTO_ALG_OPTIONAL_KEY).
 *
 * Node's crypto offers only the 512-bit variant. The 64-bit words are kept as (low, high) 32-bit halves in a
 * Uint32Array, because BigInt arithmetic allocates per operation and the audit hashes every block of a disk.
 */

const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

/** RFC 7693 section 2.7; rounds 10 and 11 repeat rows 0 and 1. Entries are word indices times two. */
const SIGMA_ROWS = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
].flatMap((row) => row.map((i) => 2 * i));
const SIGMA8 = Uint8Array.from(SIGMA_ROWS);

export const BLAKE2B_BLOCK_BYTES = 128;
export const BLAKE2B_MAX_KEY_BYTES = 64;

const v = new Uint32Array(32);
const m = new Uint32Array(32);

/**
 * The mixing function G (RFC 7693 section 3.1) on word indices (times two) a, b, c, d and message words x, y.
 * A 64-bit addition adds the low halves as doubles and carries what passes 2^32 into the high half.
 */
function g(a: number, b: number, c: number, d: number, x: number, y: number): void {
  let al = v[a]! + v[b]! + m[x]!;
  let ah = v[a + 1]! + v[b + 1]! + m[x + 1]! + Math.floor(al / 0x100000000);
  al >>>= 0;
  ah >>>= 0;
  // d = rotr64(d ^ a, 32): swap the halves
  let dl = (v[d + 1]! ^ ah) >>> 0;
  let dh = (v[d]! ^ al) >>> 0;
  let cl = v[c]! + dl;
  let ch = (v[c + 1]! + dh + (cl >= 0x100000000 ? 1 : 0)) >>> 0;
  cl >>>= 0;
  // b = rotr64(b ^ c, 24)
  let xl = v[b]! ^ cl;
  let xh = v[b + 1]! ^ ch;
  let bl = ((xl >>> 24) | (xh << 8)) >>> 0;
  let bh = ((xh >>> 24) | (xl << 8)) >>> 0;
  al = al + bl + m[y]!;
  ah = (ah + bh + m[y + 1]! + Math.floor(al / 0x100000000)) >>> 0;
  al >>>= 0;
  // d = rotr64(d ^ a, 16)
  xl = dl ^ al;
  xh = dh ^ ah;
  dl = ((xl >>> 16) | (xh << 16)) >>> 0;
  dh = ((xh >>> 16) | (xl << 16)) >>> 0;
  cl = cl + dl;
  ch = (ch + dh + (cl >= 0x100000000 ? 1 : 0)) >>> 0;
  cl >>>= 0;
  // b = rotr64(b ^ c, 63) = rotl64(b ^ c, 1)
  xl = bl ^ cl;
  xh = bh ^ ch;
  bl = (xh >>> 31) | (xl << 1);
  bh = (xl >>> 31) | (xh << 1);
  v[a] = al;
  v[a + 1] = ah;
  v[b] = bl;
  v[b + 1] = bh;
  v[c] = cl;
  v[c + 1] = ch;
  v[d] = dl;
  v[d + 1] = dh;
}

/** Incremental BLAKE2b: update() any number of times, then digest() once. */
export class Blake2b {
  private readonly h = new Uint32Array(16);
  private readonly buf = new Uint8Array(BLAKE2B_BLOCK_BYTES);
  private fill = 0;
  /** bytes compressed so far (a double holds any count a disk can reach) */
  private counted = 0;

  constructor(
    private readonly outLen: number,
    key?: Uint8Array,
  ) {
    if (!Number.isInteger(outLen) || outLen < 1 || outLen > 64) throw new RangeError(`BLAKE2b digest length must be 1..64 bytes, got ${outLen}`);
    const keyLen = key?.length ?? 0;
    if (keyLen > BLAKE2B_MAX_KEY_BYTES) throw new RangeError(`BLAKE2b key must be at most 64 bytes, got ${keyLen}`);
    this.h.set(IV);
    // parameter block word 0: digest length, key length, fanout 1, depth 1
    this.h[0] = this.h[0]! ^ (0x01010000 | (keyLen << 8) | outLen);
    if (key && keyLen > 0) {
      this.buf.set(key);
      this.fill = BLAKE2B_BLOCK_BYTES; // the key block is zero-padded and compressed like data
    }
  }

  update(data: Uint8Array): this {
    for (let i = 0; i < data.length; ) {
      // a full buffer is compressed only once more input arrives: the last block is compressed in digest()
      if (this.fill === BLAKE2B_BLOCK_BYTES) {
        this.counted += BLAKE2B_BLOCK_BYTES;
        this.compress(false);
        this.fill = 0;
      }
      const n = Math.min(BLAKE2B_BLOCK_BYTES - this.fill, data.length - i);
      this.buf.set(data.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
    }
    return this;
  }

  digest(): Buffer {
    this.counted += this.fill;
    this.buf.fill(0, this.fill);
    this.compress(true);
    const out = Buffer.alloc(this.outLen);
    for (let i = 0; i < this.outLen; i++) out[i] = (this.h[i >> 2]! >>> (8 * (i & 3))) & 0xff;
    return out;
  }

  private compress(last: boolean): void {
    const { h, buf } = this;
    for (let i = 0; i < 32; i++) m[i] = buf[4 * i]! | (buf[4 * i + 1]! << 8) | (buf[4 * i + 2]! << 16) | (buf[4 * i + 3]! << 24);
    v.set(h, 0);
    v.set(IV, 16);
    // t is a 128-bit counter; its third and fourth 32-bit words stay zero for any input below 2^53 bytes
    v[24] = v[24]! ^ (this.counted >>> 0);
    v[25] = v[25]! ^ Math.floor(this.counted / 0x100000000);
    if (last) {
      v[28] = ~v[28]!;
      v[29] = ~v[29]!;
    }
    for (let r = 0; r < 12; r++) {
      const s = ((r % 10) * 16);
      g(0, 8, 16, 24, SIGMA8[s]!, SIGMA8[s + 1]!);
      g(2, 10, 18, 26, SIGMA8[s + 2]!, SIGMA8[s + 3]!);
      g(4, 12, 20, 28, SIGMA8[s + 4]!, SIGMA8[s + 5]!);
      g(6, 14, 22, 30, SIGMA8[s + 6]!, SIGMA8[s + 7]!);
      g(0, 10, 20, 30, SIGMA8[s + 8]!, SIGMA8[s + 9]!);
      g(2, 12, 22, 24, SIGMA8[s + 10]!, SIGMA8[s + 11]!);
      g(4, 14, 16, 26, SIGMA8[s + 12]!, SIGMA8[s + 13]!);
      g(6, 8, 18, 28, SIGMA8[s + 14]!, SIGMA8[s + 15]!);
    }
    for (let i = 0; i < 16; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 16]!;
  }
}

/** One-shot BLAKE2b of the concatenation of `parts`. */
export function blake2b(outLen: number, parts: readonly Uint8Array[], key?: Uint8Array): Buffer {
  const s = new Blake2b(outLen, key);
  for (const p of parts) s.update(p);
  return s.digest();
}
