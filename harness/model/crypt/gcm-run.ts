/**
 * Authenticates and decrypts a run of consecutive gcm(aes) crypt sectors with a handful of native calls
 * instead of one decipher per sector (creating one costs more than decrypting 512 bytes). GCM (NIST SP
 * 800-38D) with a 96-bit IV: J0 = IV || 1, keystream E_K(IV || 2), E_K(IV || 3), ..., and
 *   tag = S ^ E_K(J0),   S = GHASH_H(AAD padded || C || [bitlen AAD]64 [bitlen C]64),   H = E_K(0^128).
 * - every counter block of the run (J0 and the keystream of each sector) goes through one AES-ECB call;
 * - GHASH is Horner evaluation at H, so over the run's per-sector blocks laid back to back (L blocks each)
 *     GHASH(B_1 || ... || B_n) = sum_i S_i * H^(L(n-i)),  S_i = stored tag_i ^ E_K(J0_i),
 *   whose left side one native GCM call gives (the run as AAD, no plaintext), and whose right side a
 *   Horner fold over the stored tags gives with one table multiplication by H^L per sector.
 * Equal sides: every sector authenticates, except with probability about n*L/2^128 (a nonzero polynomial
 * in the secret H vanishing at it), far below a 2^-128 forgery per sector that GCM itself allows. A run
 * that fails is judged sector by sector by the caller, so exactly the failing sectors are reported.
 */
import { createCipheriv } from 'node:crypto';

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

/** out = x * (the tables' constant); out may be x */
function mulInto(t: Uint32Array, x: Block, out: Block): void {
  let a = 0, b = 0, c = 0, d = 0;
  for (let w = 0; w < 4; w++) {
    const word = x[w]!;
    for (let s = 0; s < 4; s++) {
      const at = ((4 * w + s) * 256 + ((word >>> (24 - 8 * s)) & 0xff)) * 4;
      a ^= t[at]!; b ^= t[at + 1]!; c ^= t[at + 2]!; d ^= t[at + 3]!;
    }
  }
  out[0] = a >>> 0; out[1] = b >>> 0; out[2] = c >>> 0; out[3] = d >>> 0;
}

const be32 = (buf: Uint8Array, at: number) => ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;

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
  /** the plaintext of the run verifyRun last accepted, back to back; valid until the next call */
  plaintext(data: Uint8Array, n: number): Buffer;
}

export function gcmRun(p: GcmRunParams): GcmRun | undefined {
  // the fold needs the whole 16-byte tag, and a 96-bit IV (J0 = IV || 1)
  if (p.authTagSize !== 16 || p.tupleSize < 28) return undefined;
  const bits = p.key.length * 8;
  const ecb = () => createCipheriv(`aes-${bits}-ecb`, p.key, null).setAutoPadding(false);
  const bs = p.sectorSize;
  const ctrBlocks = 1 + bs / 16; // J0, then the keystream
  const L = 2 + bs / 16 + 1; // AAD (20 bytes, padded), C, lengths
  const hBytes = ecb().update(Buffer.alloc(16));
  const H = Uint32Array.from([0, 4, 8, 12].map((o) => be32(hBytes, o)));
  let HL = Uint32Array.from(H);
  const mulH = mulTables(H);
  for (let k = 1; k < L; k++) mulInto(mulH, HL, HL);
  const mulHL = mulTables(HL);
  const gcmIv = Buffer.alloc(12);
  const emptyTag = (() => {
    const g = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
    g.final();
    return g.getAuthTag();
  })();

  let cap = 0;
  let ctr = Buffer.alloc(0);
  let ctr32 = new Uint32Array(0);
  let ghashIn = Buffer.alloc(0);
  let ghash32 = new Uint32Array(0);
  let ks = Buffer.alloc(0);
  let out = Buffer.alloc(0);
  const grow = (n: number) => {
    if (n <= cap) return;
    cap = n;
    // persistent, 4-byte aligned buffers: a fresh 1 MiB output per call costs page faults, not AES
    ctr = Buffer.alloc(n * ctrBlocks * 16);
    ctr32 = new Uint32Array(ctr.buffer, ctr.byteOffset, ctr.length / 4);
    ghashIn = Buffer.alloc(n * L * 16);
    ghash32 = new Uint32Array(ghashIn.buffer, ghashIn.byteOffset, ghashIn.length / 4);
    ks = Buffer.alloc(n * ctrBlocks * 16);
    out = Buffer.alloc(n * bs);
    for (let i = 0; i < n; i++) {
      const c = i * ctrBlocks * 16;
      for (let j = 0; j < ctrBlocks; j++) ctr.writeUInt32BE(j + 1, c + j * 16 + 12);
      const len = (i * L + L - 1) * 16; // [bitlen AAD = 160]64 [bitlen C]64
      ghashIn.writeUInt32BE(160, len + 4);
      ghashIn.writeUInt32BE(bs * 8, len + 12);
    }
  };
  const le32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  // AES-ECB output in pieces this size: well inside malloc's reuse, far from its mmap threshold
  const ECB_PIECE = 64 * 1024 - ((64 * 1024) % (ctrBlocks * 16));
  const acc = new Uint32Array(4);

  return {
    verifyRun(s0, step, data, tags, n) {
      if (n <= 0) return true;
      grow(n);
      const ts = p.tupleSize;
      for (let i = 0; i < n; i++) {
        const iv = i * ts + 16;
        // the IV's bytes as native words: copied, never interpreted
        const w0 = le32(tags, iv), w1 = le32(tags, iv + 4), w2 = le32(tags, iv + 8);
        const c = (i * ctrBlocks * 16) / 4;
        for (let j = 0; j < ctrBlocks; j++) {
          const at = c + 4 * j;
          ctr32[at] = w0; ctr32[at + 1] = w1; ctr32[at + 2] = w2;
        }
        const g = i * L * 16;
        const sector = s0 + i * step;
        ghashIn.writeUInt32LE(sector >>> 0, g);
        ghashIn.writeUInt32LE(Math.floor(sector / 0x100000000), g + 4);
        ghash32[g / 4 + 2] = w0; ghash32[g / 4 + 3] = w1; ghash32[g / 4 + 4] = w2;
        ghashIn.set(data.subarray(i * bs, (i + 1) * bs), g + 32);
      }
      const ctrBytes = n * ctrBlocks * 16;
      const e = ecb();
      for (let at = 0; at < ctrBytes; at += ECB_PIECE) ks.set(e.update(ctr.subarray(at, Math.min(ctrBytes, at + ECB_PIECE))), at);
      const g = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
      g.setAAD(ghashIn.subarray(0, n * L * 16));
      g.final();
      const whole = g.getAuthTag();
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        mulInto(mulHL, acc, acc);
        const t = i * ts;
        const e = i * ctrBlocks * 16;
        for (let w = 0; w < 4; w++) acc[w] = (acc[w]! ^ be32(tags, t + 4 * w) ^ be32(ks, e + 4 * w)) >>> 0;
      }
      // GCM over AAD X alone: tag ^ emptyTag = (GHASH(X) ^ [bitlen X]64 [0]64) * H
      const xBits = n * L * 128;
      acc[0] = (acc[0]! ^ Math.floor(xBits / 0x100000000)) >>> 0;
      acc[1] = (acc[1]! ^ xBits) >>> 0;
      mulInto(mulH, acc, acc);
      for (let w = 0; w < 4; w++) if (acc[w] !== ((be32(whole, 4 * w) ^ be32(emptyTag, 4 * w)) >>> 0)) return false;
      return true;
    },
    plaintext(data, n) {
      const o = out.subarray(0, n * bs);
      if ((data.byteOffset & 3) === 0) xorWords(new Uint32Array(data.buffer, data.byteOffset, (n * bs) / 4), new Uint32Array(ks.buffer, ks.byteOffset, ks.length / 4), new Uint32Array(o.buffer, o.byteOffset, o.length / 4), n, bs / 4, ctrBlocks * 4);
      else xorBytes(data, ks, o, n, bs, ctrBlocks * 16);
      return o;
    },
  };
}

/** out = data ^ keystream, sector by sector; the keystream of sector i starts one block (J0) into its counters */
function xorWords(d: Uint32Array, k: Uint32Array, o: Uint32Array, n: number, words: number, ctrWords: number): void {
  for (let i = 0; i < n; i++) {
    const kd = i * ctrWords + 4;
    const dd = i * words;
    for (let j = 0; j < words; j++) o[dd + j] = d[dd + j]! ^ k[kd + j]!;
  }
}

function xorBytes(d: Uint8Array, k: Uint8Array, o: Uint8Array, n: number, bs: number, ctrBytes: number): void {
  for (let i = 0; i < n; i++) {
    const kd = i * ctrBytes + 16;
    const dd = i * bs;
    for (let j = 0; j < bs; j++) o[dd + j] = d[dd + j]! ^ k[kd + j]!;
  }
}
