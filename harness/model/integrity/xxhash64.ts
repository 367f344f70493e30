/**
 * XXH64 as the kernel's crypto API "xxhash64" computes it (crypto/xxhash_generic.c over lib/xxhash.c): the
 * seed is 0 unless setkey() gave exactly 8 bytes, read little-endian; the digest is put_unaligned_le64() of
 * the 64-bit hash.
 *
 * 64-bit words are (high, low) pairs of unsigned 32-bit numbers: BigInt arithmetic allocates per operation,
 * and the audit hashes every block of a disk. mul64() multiplies in 16-bit limbs so that no partial product
 * loses bits in a double.
 */

// PRIME64_1..5 as [high, low]
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

/** The high half of the last operation's result; each function returns the low half. */
let hi = 0;

function add64(ah: number, al: number, bh: number, bl: number): number {
  const lo = al + bl;
  hi = (ah + bh + (lo >= 0x100000000 ? 1 : 0)) >>> 0;
  return lo >>> 0;
}

/** (a * b) mod 2^64 */
function mul64(ah: number, al: number, bh: number, bl: number): number {
  const a0 = al & 0xffff, a1 = al >>> 16, a2 = ah & 0xffff, a3 = ah >>> 16;
  const b0 = bl & 0xffff, b1 = bl >>> 16, b2 = bh & 0xffff, b3 = bh >>> 16;
  const c0 = a0 * b0;
  const c1 = a1 * b0 + a0 * b1 + Math.floor(c0 / 0x10000);
  const c2 = a2 * b0 + a1 * b1 + a0 * b2 + Math.floor(c1 / 0x10000);
  const c3 = a3 * b0 + a2 * b1 + a1 * b2 + a0 * b3 + Math.floor(c2 / 0x10000);
  hi = (((c3 & 0xffff) << 16) | (c2 & 0xffff)) >>> 0;
  return (((c1 & 0xffff) << 16) | (c0 & 0xffff)) >>> 0;
}

/** rotl64(a, r) for 0 < r < 32 */
function rotl64(ah: number, al: number, r: number): number {
  hi = ((ah << r) | (al >>> (32 - r))) >>> 0;
  return ((al << r) | (ah >>> (32 - r))) >>> 0;
}

/** xxh64_round(): acc += input * PRIME64_2; acc = rotl(acc, 31); acc *= PRIME64_1 */
function round(acch: number, accl: number, inh: number, inl: number): number {
  let l = mul64(inh, inl, P2H, P2L);
  l = add64(acch, accl, hi, l);
  l = rotl64(hi, l, 31);
  return mul64(hi, l, P1H, P1L);
}

/** xxh64_merge_round(): acc ^= round(0, val); acc = acc * PRIME64_1 + PRIME64_4 */
function mergeRound(acch: number, accl: number, valh: number, vall: number): number {
  const rl = round(0, 0, valh, vall);
  const l = mul64((acch ^ hi) >>> 0, (accl ^ rl) >>> 0, P1H, P1L);
  return add64(hi, l, P4H, P4L);
}

function le32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** Incremental XXH64 (lib/xxhash.c xxh64_reset/update/digest): update() any number of times, then digest(). */
export class Xxhash64 {
  // v1..v4 as [high, low] pairs
  private readonly acc = new Uint32Array(8);
  private readonly mem = new Uint8Array(32);
  private memSize = 0;
  private total = 0;

  constructor(seed: { high: number; low: number } = { high: 0, low: 0 }) {
    const { high: sh, low: sl } = seed;
    const a = this.acc;
    a[1] = add64(sh, sl, P1H, P1L);
    a[1] = add64(hi, a[1]!, P2H, P2L);
    a[0] = hi;
    a[3] = add64(sh, sl, P2H, P2L);
    a[2] = hi;
    a[4] = sh;
    a[5] = sl;
    // seed - PRIME64_1 = seed + (2^64 - PRIME64_1)
    a[7] = add64(sh, sl, ~P1H >>> 0, ((~P1L >>> 0) + 1) >>> 0);
    a[6] = hi;
  }

  /** The kernel's seed for a setkey() key: exactly 8 bytes, little-endian. */
  static seedFromKey(key: Uint8Array): { high: number; low: number } {
    if (key.length !== 8) throw new RangeError(`xxhash64 takes an 8-byte key (its seed), got ${key.length} bytes`);
    return { high: le32(key, 4), low: le32(key, 0) };
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let i = 0;
    if (this.memSize > 0) {
      const n = Math.min(32 - this.memSize, data.length);
      this.mem.set(data.subarray(0, n), this.memSize);
      this.memSize += n;
      i = n;
      if (this.memSize < 32) return this;
      this.stripe(this.mem, 0);
      this.memSize = 0;
    }
    for (; i + 32 <= data.length; i += 32) this.stripe(data, i);
    if (i < data.length) {
      this.mem.set(data.subarray(i), 0);
      this.memSize = data.length - i;
    }
    return this;
  }

  /** The 64-bit hash as [high, low]. */
  digest64(): [number, number] {
    const a = this.acc;
    let h: number, l: number;
    if (this.total >= 32) {
      l = rotl64(a[0]!, a[1]!, 1);
      let sh = hi, sl = l;
      l = rotl64(a[2]!, a[3]!, 7);
      sl = add64(sh, sl, hi, l); sh = hi;
      l = rotl64(a[4]!, a[5]!, 12);
      sl = add64(sh, sl, hi, l); sh = hi;
      l = rotl64(a[6]!, a[7]!, 18);
      sl = add64(sh, sl, hi, l); sh = hi;
      for (let k = 0; k < 8; k += 2) {
        sl = mergeRound(sh, sl, a[k]!, a[k + 1]!);
        sh = hi;
      }
      h = sh;
      l = sl;
    } else {
      l = add64(a[4]!, a[5]!, P5H, P5L); // v3 is the seed
      h = hi;
    }
    l = add64(h, l, Math.floor(this.total / 0x100000000), this.total >>> 0);
    h = hi;

    const p = this.mem;
    const end = this.memSize;
    let i = 0;
    for (; i + 8 <= end; i += 8) {
      const kl = round(0, 0, le32(p, i + 4), le32(p, i));
      // h ^= k1; h = rotl(h, 27) * PRIME64_1 + PRIME64_4
      l = rotl64((h ^ hi) >>> 0, (l ^ kl) >>> 0, 27);
      l = mul64(hi, l, P1H, P1L);
      l = add64(hi, l, P4H, P4L);
      h = hi;
    }
    if (i + 4 <= end) {
      // h ^= le32 * PRIME64_1; h = rotl(h, 23) * PRIME64_2 + PRIME64_3
      const kl = mul64(0, le32(p, i), P1H, P1L);
      l = rotl64((h ^ hi) >>> 0, (l ^ kl) >>> 0, 23);
      l = mul64(hi, l, P2H, P2L);
      l = add64(hi, l, P3H, P3L);
      h = hi;
      i += 4;
    }
    for (; i < end; i++) {
      // h ^= byte * PRIME64_5; h = rotl(h, 11) * PRIME64_1
      const kl = mul64(0, p[i]!, P5H, P5L);
      l = rotl64((h ^ hi) >>> 0, (l ^ kl) >>> 0, 11);
      l = mul64(hi, l, P1H, P1L);
      h = hi;
    }
    // avalanche: h ^= h >> 33; h *= PRIME64_2; h ^= h >> 29; h *= PRIME64_3; h ^= h >> 32
    l = (l ^ (h >>> 1)) >>> 0;
    l = mul64(h, l, P2H, P2L);
    h = hi;
    l = (l ^ ((h << 3) | (l >>> 29))) >>> 0;
    h = (h ^ (h >>> 29)) >>> 0;
    l = mul64(h, l, P3H, P3L);
    h = hi;
    l = (l ^ h) >>> 0;
    return [h, l];
  }

  /** The crypto API digest: le64 of the hash. */
  digest(): Buffer {
    const [h, l] = this.digest64();
    const out = Buffer.alloc(8);
    out.writeUInt32LE(l, 0);
    out.writeUInt32LE(h, 4);
    return out;
  }

  private stripe(b: Uint8Array, at: number): void {
    const a = this.acc;
    for (let k = 0; k < 8; k += 2) {
      const o = at + 4 * k;
      a[k + 1] = round(a[k]!, a[k + 1]!, le32(b, o + 4), le32(b, o));
      a[k] = hi;
    }
  }
}

/** One-shot kernel xxhash64 digest (le64) of the concatenation of `parts`. */
export function xxhash64(parts: readonly Uint8Array[], key?: Uint8Array): Buffer {
  const s = new Xxhash64(key === undefined ? undefined : Xxhash64.seedFromKey(key));
  for (const p of parts) s.update(p);
  return s.digest();
}
