/**
 * Verifies a run of consecutive crc32c-tagged blocks with one native CRC over all their data instead of one
 * call per block (a 512-byte call costs more than the CRC itself). CRC is affine, so
 *   crc(A || B) = crc(B) ^ shift_|B|(crc(A))          (zlib's crc32_combine; shift = append |B| zero bytes
 *                                                        to the raw register, a GF(2)-linear map)
 * and each stored tag t = crc(P || D) (P = [salt] || le64(sector)) gives the CRC its block's data must have:
 *   crc(D) = t ^ shift_bs(crc(P)),  crc(P) = crc([salt] || 0^8) ^ R0(le64(sector))   (R0: register from 0).
 * Folding those claims block by block predicts crc(D_1 || ... || D_n); the run verifies when the native CRC
 * of the data equals the prediction. A run that fails is judged block by block by the caller, so exactly
 * the failing blocks are reported; a run with errors passes only if the errors cancel in one 32-bit
 * remainder, as likely as a corrupted block passing its own crc32c tag.
 */
import { crc32c } from '@node-rs/crc32';
import { crc32cSmall } from './tags.ts';

const POLY = 0x82f63b78;
const T = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The raw register (no init, no final xor) after `bytes` more bytes. */
function register(v: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) v = T[(v ^ bytes[i]!) & 0xff]! ^ (v >>> 8);
  return v >>> 0;
}

/**
 * A GF(2)-linear map on 32-bit values as four byte-indexed tables (v -> xor of the images of its bytes),
 * from the images of the 32 single bits: 32 evaluations of the map instead of 1024.
 */
function linearTables(image: (bit: number) => number): Uint32Array {
  const basis = Array.from({ length: 32 }, (_, k) => image((1 << k) >>> 0));
  const tables = new Uint32Array(4 * 256);
  for (let k = 0; k < 4; k++) {
    for (let b = 1; b < 256; b++) {
      const low = b & -b; // b = low bit + the rest, already tabled
      tables[k * 256 + b] = (basis[8 * k + Math.log2(low)]! ^ tables[k * 256 + (b ^ low)]!) >>> 0;
    }
  }
  return tables;
}

const apply = (t: Uint32Array, v: number) => (t[v & 0xff]! ^ t[256 + ((v >>> 8) & 0xff)]! ^ t[512 + ((v >>> 16) & 0xff)]! ^ t[768 + (v >>> 24)]!) >>> 0;

export interface Crc32cRunVerifier {
  /** whether all n blocks (data back to back in `data`, 4-byte-or-longer tags back to back in `tags`) verify */
  verifyRun(firstSector: number, sectorsPerBlock: number, data: Uint8Array, tags: Uint8Array, n: number): boolean;
}

export function crc32cRunVerifier(p: { blockSize: number; tagSize: number; salt?: Buffer }): Crc32cRunVerifier | undefined {
  // a tag shorter than the CRC hides bits the prediction needs
  if (p.tagSize < 4) return undefined;
  const { blockSize: bs, tagSize: ts } = p;
  const zeros = new Uint8Array(bs);
  const S = linearTables((v) => register(v, zeros));
  const shift = (v: number) => apply(S, v);
  const saltLen = p.salt ? p.salt.length : 0;
  const prefix = new Uint8Array(saltLen + 8);
  if (p.salt) prefix.set(p.salt, 0);
  // shift_bs(crc(salt || 0^8)), and shift_bs(R0(le64(sector))) as tables for the low and high 32 bits
  const base = shift(crc32cSmall(prefix));
  const le64 = new Uint8Array(8);
  const sectorTables = (half: 0 | 1) => linearTables((v) => {
    le64.fill(0);
    new DataView(le64.buffer).setUint32(4 * half, v, true);
    return shift(register(0, le64));
  });
  const V = new Uint32Array(8 * 256);
  V.set(sectorTables(0), 0);
  V.set(sectorTables(1), 1024);
  return {
    verifyRun(ls0, spb, data, tags, n) {
      if (n <= 0) return true;
      if (data.length < n * bs || tags.length < n * ts) throw new RangeError(`run of ${n} blocks needs ${n * bs} data and ${n * ts} tag bytes`);
      let x = 0;
      for (let i = 0; i < n; i++) {
        const at = i * ts;
        for (let j = at + 4; j < at + ts; j++) if (tags[j] !== 0) return false; // zero padding beyond the CRC
        const t = (tags[at]! | (tags[at + 1]! << 8) | (tags[at + 2]! << 16) | (tags[at + 3]! << 24)) >>> 0;
        const s = ls0 + i * spb;
        const lo = s >>> 0;
        let c = t ^ base ^ V[lo & 0xff]! ^ V[256 + ((lo >>> 8) & 0xff)]! ^ V[512 + ((lo >>> 16) & 0xff)]! ^ V[768 + (lo >>> 24)]!;
        if (s > 0xffffffff) {
          const hi = Math.floor(s / 0x100000000);
          c ^= V[1024 + (hi & 0xff)]! ^ V[1280 + ((hi >>> 8) & 0xff)]! ^ V[1536 + ((hi >>> 16) & 0xff)]! ^ V[1792 + (hi >>> 24)]!;
        }
        x = (c ^ (i === 0 ? 0 : shift(x))) >>> 0;
      }
      const view = Buffer.from(data.buffer, data.byteOffset, n * bs);
      return crc32c(view) === x;
    },
  };
}
