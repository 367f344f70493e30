/**
 * Authenticates and decrypts a run of consecutive gcm(aes) crypt sectors with a handful of native calls
 * instead of one decipher per sector (creating one costs more than decrypting 512 bytes). GCM (NIST SP
 * 800-38D) with a 96-bit IV: J0 = IV || 1, keystream E_K(IV || 2), E_K(IV || 3), ..., and
 *   tag = S ^ E_K(J0),   S = GHASH_H(AAD padded || C || [bitlen AAD]64 [bitlen C]64),   H = E_K(0^128),
 * GHASH_H(X_1 .. X_m) = sum_j X_j H^(m - j + 1). dm-crypt's AAD is le64(sector) || IV, two blocks a1, a2.
 * - every counter block of the run goes through one AES-ECB pass: the keystream blocks of all sectors
 *   back to back (the plaintext is then one SIMD XOR over the run), then the J0 blocks;
 * - one native GHASH checks every tag: over Z = for each sector [a1, a2, C_i, len, S_i' = tag_i ^ E_K(J0_i)]
 *   the state after a sector's len block is (the state before) H^(B+3) ^ S_i, and after S_i' it is that
 *   ^ S_i', times H. If every sector authenticates (S_i' = S_i) the state returns to zero after each one, so
 *   GHASH_H(Z) = 0. A native GCM with Z as its only AAD gives tag = E_K(J0') ^ (GHASH_H(Z) ^ L) H, L the
 *   length block of Z, so GHASH_H(Z) = 0 exactly when that tag equals the tag of an all-zero AAD of Z's length.
 * Otherwise GHASH_H(Z) = sum_i (S_i ^ S_i') H^(1 + (B+4)(n-1-i)), a nonzero polynomial of degree <= (B+4) n in
 * the secret H, which vanishes at H with probability about (B+4) n / 2^128: far below the 2^-128 forgery per
 * sector that GCM itself allows. A run that fails is judged sector by sector by the caller, so exactly the
 * failing sectors are reported.
 * The counter blocks, Z and the XOR are WebAssembly SIMD (gcm-simd.ts), in the module's memory, where the
 * run is copied once, or read in the first place (buffers()).
 * Where native-gcm.ts loads, all of this is one pass in C instead (native/gcm-run.c: per sector GHASH with
 * PCLMULQDQ against the stored tag, no Z, no copy into the module), which the bench measures against this
 * path; the path above stays for hosts without it.
 */
import { createCipheriv } from 'node:crypto';
import { gcmSimd } from './gcm-simd.ts';
import { nativeGcm, type NativeGcmRun } from './native-gcm.ts';

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
  /**
   * Where to read runs of up to n sectors so that verifyRun need not copy them into the module's memory;
   * valid until a verifyRun of more than n sectors.
   */
  buffers(n: number): { data: Buffer; tags: Buffer };
}

/**
 * AES-ECB in pieces of this size. node:crypto allocates every output; 64 KiB outputs page-faulted ~50K times
 * per 256 MiB (malloc handing the freed ones back to the kernel), 8-24 KiB ones next to none (measured).
 */
const ECB_PIECE = 16 * 1024;
/** zero-AAD tags kept per Z length; runs come in a few lengths (the audit's chunk, area ends) */
const ZERO_TAGS_KEPT = 16;

export function gcmRun(p: GcmRunParams): GcmRun | undefined {
  // a 96-bit IV in the tuple (J0 = IV || 1) and the whole 16-byte tag; sectors of whole 512 bytes (B % 4 == 0)
  if (p.authTagSize !== 16 || p.tupleSize < 28 || p.sectorSize % 512) return undefined;
  const native = nativeGcm(p.key);
  if (native) return nativeGcmRun(p, native);
  const simd = gcmSimd();
  if (!simd) return undefined;
  const bits = p.key.length * 8;
  const bs = p.sectorSize;
  const ts = p.tupleSize;
  const B = bs / 16; // ciphertext blocks per sector
  const gcmIv = Buffer.alloc(12);
  const gcmAad = (aad: Uint8Array): Buffer => {
    const g = createCipheriv(`aes-${bits}-gcm` as 'aes-256-gcm', p.key, gcmIv);
    g.setAAD(aad);
    g.final();
    return g.getAuthTag();
  };
  const zeroTags = new Map<number, Buffer>();
  const zeroTag = (zBytes: number): Buffer => {
    let t = zeroTags.get(zBytes);
    if (!t) {
      if (zeroTags.size >= ZERO_TAGS_KEPT) zeroTags.clear();
      zeroTags.set(zBytes, (t = gcmAad(Buffer.alloc(zBytes))));
    }
    return t;
  };
  // ECB keeps no state between whole blocks: one cipher for every run (creating one costs microseconds)
  const ecb = createCipheriv(`aes-${bits}-ecb`, p.key, null).setAutoPadding(false);

  // module memory: [table: B counter templates, the J0 template, the length block | tags | data | plaintext | counters | Z]
  const table = 0;
  const lenBlock = table + (B + 1) * 16;
  const tagsAt = Math.ceil((lenBlock + 16) / 64) * 64;
  let cap = 0;
  let at = { data: 0, out: 0, ctr: 0, z: 0 };
  let mem = Buffer.from(simd.memory.buffer);
  const grow = (n: number) => {
    if (n <= cap) return;
    const data = tagsAt + Math.ceil((n * ts + 64) / 64) * 64; // fill reads 4 bytes past the last IV
    const ctr = data + 2 * n * bs;
    at = { data, out: data + n * bs, ctr, z: ctr + n * (B + 1) * 16 };
    const need = at.z + n * (B + 4) * 16;
    if (need > simd.memory.buffer.byteLength) simd.memory.grow(Math.ceil((need - simd.memory.buffer.byteLength) / 65536));
    mem = Buffer.from(simd.memory.buffer);
    cap = n;
  };
  for (let j = 0; j < B; j++) mem.writeUInt32BE(2 + j, table + j * 16 + 12);
  mem.writeUInt32BE(1, table + B * 16 + 12);
  // [bitlen AAD = 160]64 [bitlen C]64
  mem.writeUInt32BE(160, lenBlock + 4);
  mem.writeUInt32BE(bs * 8, lenBlock + 12);

  const inModule = (b: Uint8Array, offset: number) => b.buffer === simd.memory.buffer && b.byteOffset === offset;
  let lastN = 0;
  let decrypted = false;
  return {
    buffers(n) {
      grow(n);
      return { data: mem.subarray(at.data, at.data + n * bs), tags: mem.subarray(tagsAt, tagsAt + n * ts) };
    },
    verifyRun(s0, step, data, tags, n) {
      if (n <= 0) return true;
      if (data.length < n * bs || tags.length < n * ts) throw new RangeError(`run of ${n} sectors needs ${n * bs} data and ${n * ts} tag bytes`);
      grow(n);
      lastN = 0;
      if (!inModule(tags, tagsAt)) mem.set(tags.subarray(0, n * ts), tagsAt);
      if (!inModule(data, at.data)) mem.set(data.subarray(0, n * bs), at.data);
      simd.fill(at.ctr, tagsAt, ts, n, B, table);
      // the keystream and the J0 blocks, encrypted in place
      const end = at.ctr + n * (B + 1) * 16;
      for (let a = at.ctr; a < end; a += ECB_PIECE) mem.set(ecb.update(mem.subarray(a, Math.min(end, a + ECB_PIECE))), a);
      simd.ghashInput(at.z, at.data, tagsAt, at.ctr + n * bs, n, B, s0, step, ts, lenBlock);
      const zBytes = n * (B + 4) * 16;
      if (!gcmAad(mem.subarray(at.z, at.z + zBytes)).equals(zeroTag(zBytes))) return false;
      lastN = n;
      decrypted = false;
      return true;
    },
    plaintext(_data, n, into) {
      if (n !== lastN || lastN === 0) throw new RangeError(`plaintext() of ${n} sectors, but the last verified run had ${lastN}`);
      const len = n * bs;
      if (!decrypted) simd.xor(at.out, at.data, at.ctr, len);
      decrypted = true;
      const o = mem.subarray(at.out, at.out + len);
      if (!into) return o;
      into.set(o);
      return Buffer.from(into.buffer, into.byteOffset, len);
    },
  };
}

/** The same GcmRun over native/gcm-run.c: plain buffers, the plaintext written while the run is checked. */
function nativeGcmRun(p: GcmRunParams, check: NativeGcmRun): GcmRun {
  const bs = p.sectorSize;
  const ts = p.tupleSize;
  let cap = 0;
  let bufs = { data: Buffer.alloc(0), tags: Buffer.alloc(0), out: Buffer.alloc(0) };
  const grow = (n: number) => {
    if (n > cap) [bufs, cap] = [{ data: Buffer.alloc(n * bs), tags: Buffer.alloc(n * ts), out: Buffer.alloc(n * bs) }, n];
  };
  let lastN = 0;
  return {
    buffers(n) {
      grow(n);
      return { data: bufs.data.subarray(0, n * bs), tags: bufs.tags.subarray(0, n * ts) };
    },
    verifyRun(s0, step, data, tags, n) {
      if (n <= 0) return true;
      if (data.length < n * bs || tags.length < n * ts) throw new RangeError(`run of ${n} sectors needs ${n * bs} data and ${n * ts} tag bytes`);
      grow(n);
      lastN = 0;
      if (!check(data, tags, bufs.out, n, bs, ts, s0, step)) return false;
      lastN = n;
      return true;
    },
    plaintext(_data, n, into) {
      if (n !== lastN || lastN === 0) throw new RangeError(`plaintext() of ${n} sectors, but the last verified run had ${lastN}`);
      const o = bufs.out.subarray(0, n * bs);
      if (!into) return o;
      into.set(o);
      return Buffer.from(into.buffer, into.byteOffset, o.length);
    },
  };
}
