/**
 * Authenticates and decrypts a run of consecutive gcm(aes) crypt sectors with a handful of native calls
 * instead of one decipher per sector (creating one costs more than decrypting 512 bytes). GCM (NIST SP
 * 800-38D) with a 96-bit IV: J0 = IV || 1, keystream E_K(IV || 2), E_K(IV || 3), ..., and
 *   tag = S ^ E_K(J0),   S = GHASH_H(AAD padded || C || [bitlen AAD]64 [bitlen C]64),   H = E_K(0^128).
 * - every counter block of the run goes through one AES-ECB pass: the keystream blocks of all sectors
 *   first, back to back (so the plaintext is one SIMD XOR over the run, xor-simd.ts), then the J0 blocks;
 * - dm-crypt's AAD is two blocks, a1 = le64(sector) || IV[0..8], a2 = IV[8..12] || 0^12, and C is B = bs/16
 *   blocks, so by Horner's rule S_i = (a1 H ^ a2) H^(B+2) ^ g_i H ^ len H with g_i = GHASH_H(C_i). One
 *   native GCM call with the whole run's ciphertext as AAD (read in place, no copy) gives
 *     G = GHASH_H(C_1 || ... || C_n) = sum_i g_i H^(B(n-i)),
 *   and the stored tags give what each g_i H must be: S_i ^ (a1 H ^ a2) H^(B+2) ^ len H, S_i = tag_i ^ E_K(J0_i).
 *   A Horner fold of those claims with H^B predicts G H: per sector one table multiplication and the
 *   AAD's nonzero words through tables of H^(B+3) and H^(B+2); for small sectors a second native GHASH
 *   over the claims laid out sparsely does the fold instead (SPARSE_MAX_BLOCKS).
 * Equal sides: every sector authenticates, except with probability about n*B/2^128 (a nonzero polynomial
 * in the secret H vanishing at it), far below a 2^-128 forgery per sector that GCM itself allows. A run
 * that fails is judged sector by sector by the caller, so exactly the failing sectors are reported.
 */
import { createCipheriv } from 'node:crypto';
import type { RunKernel } from '../integrity/verifier.ts';
import { xorArena } from './xor-simd.ts';

/** 128-bit GCM field elements as four big-endian 32-bit words; bit 0 is the MSB of byte 0. */
type Block = Uint32Array;

/** x * y for one factor's 128 basis products: basis[j] = e_j * y, e_(j+1) = e_j * x (a right shift). */
function basisOf(y: Block): Uint32Array {
  const out = new Uint32Array(128 * 4);
  let [a, b, c, d] = [y[0]!, y[1]!, y[2]!, y[3]!];
  for (let j = 0; j < 128; j++) {
    out.set([a, b, c, d], 4 * j);
    const carry = d & 1;
    d = ((d >>> 1) | (c << 31)) >>> 0;
    c = ((c >>> 1) | (b << 31)) >>> 0;
    b = ((b >>> 1) | (a << 31)) >>> 0;
    a = (a >>> 1) ^ (carry ? 0xe1000000 : 0);
    a >>>= 0;
  }
  return out;
}

/** Multiplication by a constant as 16 byte-indexed tables of 256 products. */
function mulTables(y: Block): Uint32Array {
  const basis = basisOf(y);
  const t = new Uint32Array(16 * 256 * 4);
  for (let k = 0; k < 16; k++) {
    for (let v = 1; v < 256; v++) {
      const low = v & -v;
      const bit = 8 * k + (7 - Math.log2(low)); // the byte's MSB is the lowest bit index
      const at = (k * 256 + v) * 4;
      const rest = (k * 256 + (v ^ low)) * 4;
      for (let w = 0; w < 4; w++) t[at + w] = (t[rest + w]! ^ basis[4 * bit + w]!) >>> 0;
    }
  }
  return t;
}

/** out[o..o+4] ^= (word at position w of a field element, the other words zero) * (the tables' constant) */
function mulWordAdd(t: Uint32Array, w: number, word: number, out: Uint32Array, o: number): void {
  const k = 4096 * w;
  let at = k + ((word >>> 24) << 2);
  let x0 = t[at]!, x1 = t[at + 1]!, x2 = t[at + 2]!, x3 = t[at + 3]!;
  at = k + 1024 + (((word >>> 16) & 0xff) << 2);
  x0 ^= t[at]!; x1 ^= t[at + 1]!; x2 ^= t[at + 2]!; x3 ^= t[at + 3]!;
  at = k + 2048 + (((word >>> 8) & 0xff) << 2);
  x0 ^= t[at]!; x1 ^= t[at + 1]!; x2 ^= t[at + 2]!; x3 ^= t[at + 3]!;
  at = k + 3072 + ((word & 0xff) << 2);
  x0 ^= t[at]!; x1 ^= t[at + 1]!; x2 ^= t[at + 2]!; x3 ^= t[at + 3]!;
  out[o] = out[o]! ^ x0; out[o + 1] = out[o + 1]! ^ x1; out[o + 2] = out[o + 2]! ^ x2; out[o + 3] = out[o + 3]! ^ x3;
}

/** out[o..o+4] = (a, b, c, d) * (the tables' constant) */
function mul(t: Uint32Array, a: number, b: number, c: number, d: number, out: Uint32Array, o: number): void {
  out[o] = 0; out[o + 1] = 0; out[o + 2] = 0; out[o + 3] = 0;
  mulWordAdd(t, 0, a, out, o);
  mulWordAdd(t, 1, b, out, o);
  mulWordAdd(t, 2, c, out, o);
  mulWordAdd(t, 3, d, out, o);
}

function power(mulH: Uint32Array, h: Block, e: number): Block {
  const x = Uint32Array.from(h);
  for (let k = 1; k < e; k++) mul(mulH, x[0]!, x[1]!, x[2]!, x[3]!, x, 0);
  return x;
}

const be32 = (buf: Uint8Array, at: number) => ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
const le32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
const bswap = (v: number) => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;

/**
 * Up to this many blocks per sector (1024-byte sectors), the claims are checked by a native GHASH instead
 * of a JS fold. GHASH is Horner's rule, so over a buffer Y whose block at exponent x of H holds a claim's
 * term, GHASH(Y) = sum of the terms: T = sum_i H^(B(n-1-i)) (S_i ^ len H ^ a1 H^(B+3) ^ a2 H^(B+2)), the
 * fold's value, which must be G H. With T's exponents shifted by one (GHASH starts at H^1) and Y of B n + 4
 * blocks, sector i puts a1 at block B i, a2 at B i + 1, len at B (i + 1) + 2 and S_i at B (i + 1) + 3; the
 * other blocks stay zero. Y costs a GHASH of about the run's size, cheaper than the fold's three table
 * multiplications per sector for small sectors only.
 */
const SPARSE_MAX_BLOCKS = 64;

export interface GcmRunParams {
  key: Buffer;
  /** crypt sector size in bytes (the dm-integrity block) */
  sectorSize: number;
  /** bytes per tag slot: [auth tag 16 | IV 12 | padding] */
  tupleSize: number;
  authTagSize: number;
}

export interface GcmRun {
  /** whether every sector of the run authenticates; `sector(i)` is the AAD sector of the i-th */
  verifyRun(firstAadSector: number, aadSectorStep: number, data: Uint8Array, tags: Uint8Array, n: number): boolean;
  /** the plaintext of the run verifyRun last accepted, back to back; valid until the next call (or into `into`) */
  plaintext(data: Uint8Array, n: number, into?: Uint8Array): Buffer;
}

export function gcmRun(p: GcmRunParams): GcmRun | undefined {
  // the fold needs the whole 16-byte tag, and a 96-bit IV (J0 = IV || 1)
  if (p.authTagSize !== 16 || p.tupleSize < 28) return undefined;
  const bits = p.key.length * 8;
  const ecb = () => createCipheriv(`aes-${bits}-ecb`, p.key, null).setAutoPadding(false);
  const bs = p.sectorSize;
  const B = bs / 16; // ciphertext blocks per sector
  const hBytes = ecb().update(Buffer.alloc(16));
  const H = Uint32Array.from([0, 4, 8, 12].map((o) => be32(hBytes, o)));
  const mulH = mulTables(H);
  const mulHB = mulTables(power(mulH, H, B));
  const mulHB2 = mulTables(power(mulH, H, B + 2));
  const mulHB3 = mulTables(power(mulH, H, B + 3));
  // len H, the same for every sector: [bitlen AAD = 160]64 [bitlen C]64
  const lenH = new Uint32Array(4);
  mul(mulH, 0, 160, 0, bs * 8, lenH, 0);
  // small sectors: the claims as a sparse buffer for one more native GHASH instead of a JS fold (SPARSE_MAX_BLOCKS)
  const sparse = B <= SPARSE_MAX_BLOCKS;
  const mulH2 = mulTables(power(mulH, H, 2));
  const gcmIv = Buffer.alloc(12);
  const emptyTag = (() => {
    const g = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
    g.final();
    return g.getAuthTag();
  })();

  /** GHASH(X) H of an AAD-only GCM tag over X of `xBits`: tag ^ emptyTag ^ [xBits]64 [0]64 H, as words */
  const lengthOff = (tag: Buffer, xBits: number): number[] => {
    const l = new Uint32Array(4);
    mul(mulH, Math.floor(xBits / 0x100000000), xBits >>> 0, 0, 0, l, 0);
    return [0, 1, 2, 3].map((w) => (be32(tag, 4 * w) ^ be32(emptyTag, 4 * w) ^ l[w]!) >>> 0);
  };

  let cap = 0;
  let ctr = Buffer.alloc(0);
  let ctr32 = new Uint32Array(0);
  // the keystream (arena.b) and the ciphertext's copy (arena.a) meet in one SIMD XOR (xor-simd.ts)
  let arena = xorArena(0);
  let ks32: Uint32Array = new Uint32Array(0);
  let y = Buffer.alloc(0);
  let y32 = new Uint32Array(0);
  const grow = (n: number) => {
    if (n <= cap) return;
    cap = n;
    // persistent, 4-byte aligned buffers: a fresh 1 MiB output per call costs page faults, not AES.
    // Counter blocks: n*B keystream blocks IV || (2 + j), then n J0 blocks IV || 1; the IVs are filled per run.
    ctr = Buffer.alloc(n * (B + 1) * 16);
    ctr32 = new Uint32Array(ctr.buffer, ctr.byteOffset, ctr.length / 4);
    arena = xorArena(ctr.length);
    ks32 = new Uint32Array(arena.b.buffer, arena.b.byteOffset, ctr.length / 4);
    for (let i = 0; i < n; i++) for (let j = 0; j < B; j++) ctr.writeUInt32BE(j + 2, (i * B + j) * 16 + 12);
    for (let i = 0; i < n; i++) ctr.writeUInt32BE(1, (n * B + i) * 16 + 12);
    if (sparse) {
      y = Buffer.alloc((n * B + 4) * 16);
      y32 = new Uint32Array(y.buffer, y.byteOffset, y.length / 4);
      for (let i = 0; i < n; i++) {
        y.writeUInt32BE(160, (B * (i + 1) + 2) * 16 + 4);
        y.writeUInt32BE(bs * 8, (B * (i + 1) + 2) * 16 + 12);
      }
    }
  };
  // AES-ECB output in pieces this size: well inside malloc's reuse, far from its mmap threshold
  const ECB_PIECE = 64 * 1024;
  const acc = new Uint32Array(8); // [0..4): the fold; [4..8): scratch
  // ECB keeps no state between whole blocks: one cipher for every run (creating one costs tens of microseconds)
  const e = ecb();
  let lastN = 0;
  let lastCap = 0;

  return {
    verifyRun(s0, step, data, tags, n) {
      if (n <= 0) return true;
      if (data.length < n * bs || tags.length < n * p.tupleSize) throw new RangeError(`run of ${n} sectors needs ${n * bs} data and ${n * p.tupleSize} tag bytes`);
      grow(n);
      lastN = 0;
      const ts = p.tupleSize;
      const j0 = cap * B * 4; // first J0 word in ctr32 / ks32
      for (let i = 0; i < n; i++) {
        const iv = i * ts + 16;
        // the IV's bytes as native words: copied, never interpreted
        const w0 = le32(tags, iv), w1 = le32(tags, iv + 4), w2 = le32(tags, iv + 8);
        const end = (i + 1) * B * 4;
        for (let at = i * B * 4; at < end; at += 4) {
          ctr32[at] = w0; ctr32[at + 1] = w1; ctr32[at + 2] = w2;
        }
        const at = j0 + 4 * i;
        ctr32[at] = w0; ctr32[at + 1] = w1; ctr32[at + 2] = w2;
      }
      // the keystream of the run, then its J0 blocks (at the end of the buffers, wherever n ends)
      const ksBytes = n * B * 16;
      const ks = arena.b;
      for (let at = 0; at < ksBytes; at += ECB_PIECE) ks.set(e.update(ctr.subarray(at, Math.min(ksBytes, at + ECB_PIECE))), at);
      ks.set(e.update(ctr.subarray(j0 * 4, j0 * 4 + n * 16)), j0 * 4);
      const g = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
      g.setAAD(data.subarray(0, n * bs));
      g.final();
      const whole = g.getAuthTag();
      // G H = whole ^ emptyTag ^ [bitlen C]64 [0]64 H: GCM over AAD X alone gives (GHASH(X) ^ [bitlen X]64 [0]64) H
      const gh = lengthOff(whole, n * bs * 8);
      if (sparse) {
        // sector i's claim, native words of the bytes as stored: a1 at block B i, a2 at B i + 1, S_i at B (i + 1) + 3
        for (let i = 0; i < n; i++) {
          const t = i * ts;
          const sector = s0 + i * step;
          let at = B * i * 4;
          y32[at] = sector >>> 0; y32[at + 1] = Math.floor(sector / 0x100000000);
          y32[at + 2] = le32(tags, t + 16); y32[at + 3] = le32(tags, t + 20); y32[at + 4] = le32(tags, t + 24);
          at = (B * (i + 1) + 3) * 4;
          const k = j0 + 4 * i;
          y32[at] = le32(tags, t) ^ ks32[k]!; y32[at + 1] = le32(tags, t + 4) ^ ks32[k + 1]!;
          y32[at + 2] = le32(tags, t + 8) ^ ks32[k + 2]!; y32[at + 3] = le32(tags, t + 12) ^ ks32[k + 3]!;
        }
        // a longer run before this one left its next sector's a1, a2 inside this one's B n + 4 blocks
        y32.fill(0, B * n * 4, B * n * 4 + 8);
        const gy = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
        gy.setAAD(y.subarray(0, (n * B + 4) * 16));
        gy.final();
        // GHASH(Y) = T H must be G H^2: lengthOff gives GHASH(Y) H, to meet (G H) H^2
        const ty = lengthOff(gy.getAuthTag(), (n * B + 4) * 128);
        mul(mulH2, gh[0]!, gh[1]!, gh[2]!, gh[3]!, acc, 4);
        for (let w = 0; w < 4; w++) if ((acc[4 + w]! >>> 0) !== ty[w]) return false;
        lastN = n;
        lastCap = cap;
        return true;
      }
      let f0 = 0, f1 = 0, f2 = 0, f3 = 0;
      for (let i = 0; i < n; i++) {
        // fold: acc * H^B, then this sector's claim for g_i H
        mul(mulHB, f0, f1, f2, f3, acc, 0);
        const t = i * ts;
        const iv = t + 16;
        const sector = s0 + i * step;
        // a1 H^(B+3) ^ a2 H^(B+2), a1 = le64(sector) || IV[0..8] and a2 = IV[8..12] || 0^12 as big-endian
        // words: a word at a time, skipping the ones that are zero (a2's last three, the sector's high half)
        mulWordAdd(mulHB3, 0, bswap(sector >>> 0), acc, 0);
        if (sector > 0xffffffff) mulWordAdd(mulHB3, 1, bswap(Math.floor(sector / 0x100000000)), acc, 0);
        mulWordAdd(mulHB3, 2, be32(tags, iv), acc, 0);
        mulWordAdd(mulHB3, 3, be32(tags, iv + 4), acc, 0);
        mulWordAdd(mulHB2, 0, be32(tags, iv + 8), acc, 0);
        const k = j0 + 4 * i;
        f0 = acc[0]! ^ lenH[0]! ^ be32(tags, t) ^ bswap(ks32[k]!);
        f1 = acc[1]! ^ lenH[1]! ^ be32(tags, t + 4) ^ bswap(ks32[k + 1]!);
        f2 = acc[2]! ^ lenH[2]! ^ be32(tags, t + 8) ^ bswap(ks32[k + 2]!);
        f3 = acc[3]! ^ lenH[3]! ^ be32(tags, t + 12) ^ bswap(ks32[k + 3]!);
      }
      if ((f0 >>> 0) !== gh[0] || (f1 >>> 0) !== gh[1] || (f2 >>> 0) !== gh[2] || (f3 >>> 0) !== gh[3]) return false;
      lastN = n;
      lastCap = cap;
      return true;
    },
    plaintext(data, n, into) {
      if (n !== lastN || cap !== lastCap) throw new RangeError(`plaintext() of ${n} sectors, but the last verified run had ${lastN}`);
      const len = n * bs;
      arena.a.set(data.subarray(0, len));
      arena.xor(len);
      const o = arena.out.subarray(0, len);
      if (!into) return o;
      into.set(o);
      return Buffer.from(into.buffer, into.byteOffset, len);
    },
  };
}

/** The arguments an audit worker rebuilds the run verifier from (cryptAeadVerifier's runOffload). */
export interface GcmRunKernelParams extends GcmRunParams {
  /** the crypt target's offset on the dm-integrity device, in 512-byte sectors */
  offsetSectors: number;
  sectorsPerBlock: number;
}

/** The worker side of cryptAeadVerifier's verifyRun / plaintextRun for gcm(aes)-random. */
export function runKernel(p: GcmRunKernelParams): RunKernel {
  const gcm = gcmRun(p);
  if (!gcm) throw new RangeError(`gcm run kernel: unsupported tag layout (tag ${p.authTagSize}, tuple ${p.tupleSize})`);
  return {
    verifyRun: (ls0, data, tags, n) => ls0 >= p.offsetSectors && gcm.verifyRun(ls0 - p.offsetSectors, p.sectorsPerBlock, data, tags, n),
    plaintextInto: (_ls0, data, _tags, n, out) => void gcm.plaintext(data, n, out),
  };
}
