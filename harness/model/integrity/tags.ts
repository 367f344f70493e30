/**
 * dm-integrity internal_hash tags, as integrity_sector_checksum() computes them:
 *   digest = H( [salt (16 bytes), only when the superblock has SB_FLAG_FIXED_HMAC] || le64(sector) || block data )
 * where `sector` is the block's first 512-byte logical sector on the dm-integrity target. The digest is
 * truncated to tag_size, or zero-padded when shorter (memset in integrity_sector_checksum()).
 *
 * Hash flavours, checked against crypto/crc32c_generic.c and crypto/crc32_generic.c:
 * - crc32c: seed ~0, final ~crc, stored le32 (standard CRC-32C, check value 0xE3069283).
 * - crc32: crc32_le() seeded with 0 and *no* final xor (not zlib's CRC-32), stored le32.
 * - blake2b-N: unkeyed BLAKE2b with an N-bit digest (crypto/blake2b_generic.c), see blake2b.ts.
 * - xxhash64: XXH64 with seed 0, stored le64 (crypto/xxhash_generic.c), see xxhash64.ts.
 * integritysetup passes these names through unchanged (crypt_parse_hash_integrity_mode() turns only
 * "hmac-<h>" into "hmac(<h>)"), and cannot key them (--integrity-key-file is for hmac-* only).
 */
import { createHash, createHmac } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { ModelInputError } from '../errors.ts';
import { Blake2b } from './blake2b.ts';
import { Xxhash64 } from './xxhash64.ts';

export const INTEGRITY_HASHES = [
  'crc32c', 'crc32', 'sha1', 'sha256', 'sha512', 'hmac-sha1', 'hmac-sha256', 'hmac-sha512',
  'blake2b-160', 'blake2b-256', 'blake2b-384', 'blake2b-512', 'xxhash64',
] as const;
export type IntegrityHash = (typeof INTEGRITY_HASHES)[number];

/** hmac-* hashes are keyed: integritysetup --integrity-key-file, the table's internal_hash:hmac(<h>):<key>. */
export function isKeyedHash(hash: IntegrityHash): boolean {
  return hash.startsWith('hmac-');
}

/** The kernel crypto API name: hmac-sha256 -> hmac(sha256). */
export function kernelHashName(hash: IntegrityHash): string {
  return isKeyedHash(hash) ? `hmac(${hash.slice('hmac-'.length)})` : hash;
}

/** Kernel crypto API name (as in `internal_hash:<name>`) -> our name. */
const KERNEL_NAMES: Record<string, IntegrityHash> = {
  crc32c: 'crc32c',
  crc32: 'crc32',
  sha1: 'sha1',
  sha256: 'sha256',
  sha512: 'sha512',
  'blake2b-160': 'blake2b-160',
  'blake2b-256': 'blake2b-256',
  'blake2b-384': 'blake2b-384',
  'blake2b-512': 'blake2b-512',
  xxhash64: 'xxhash64',
  ...Object.fromEntries(INTEGRITY_HASHES.filter(isKeyedHash).flatMap((h) => [[h, h], [kernelHashName(h), h]])),
};

export function parseIntegrityHash(name: string, source?: string): IntegrityHash {
  const h = KERNEL_NAMES[name.toLowerCase()];
  if (!h) throw new ModelInputError(`unknown integrity hash ${JSON.stringify(name)} (known: ${Object.keys(KERNEL_NAMES).join(', ')})`, { source });
  return h;
}

export function digestSize(hash: IntegrityHash): number {
  return {
    crc32c: 4, crc32: 4, sha1: 20, 'hmac-sha1': 20, sha256: 32, 'hmac-sha256': 32, sha512: 64, 'hmac-sha512': 64,
    'blake2b-160': 20, 'blake2b-256': 32, 'blake2b-384': 48, 'blake2b-512': 64, xxhash64: 8,
  }[hash];
}

/** The kernel's "crc32" shash: crc32_le(0, data), no inversion. zlib's crc32(d, ~0) returns ~crc32_le(0, d). */
export function kernelCrc32(data: Uint8Array, prev = 0): number {
  return ~zlibCrc32(data, ~prev >>> 0) >>> 0;
}

export interface TagParams {
  hash: IntegrityHash;
  key?: Buffer;
  /** only when the superblock has the fixed-HMAC flag */
  salt?: Buffer;
  tagSize: number;
}

/**
 * A reusable tag function for one device: writes the tag of (logicalSector, block) into `out` at `at`.
 * The audit calls it once per block, so it avoids per-call allocation for the CRC flavours.
 */
export type TagWriter = (logicalSector: number, data: Uint8Array, out: Buffer, at: number) => void;

export function tagWriter(p: TagParams): TagWriter {
  const { hash, tagSize } = p;
  if (!Number.isInteger(tagSize) || tagSize < 1) throw new ModelInputError(`tag size must be a positive integer, got ${tagSize}`);
  if (isKeyedHash(hash) && !p.key?.length) throw new ModelInputError(`${hash} needs a key (--key HEX)`);
  if (!isKeyedHash(hash) && p.key?.length) {
    throw new ModelInputError(`a key was given for ${hash}; keyed (seeded) ${hash} is not modelled`);
  }
  if (p.salt && p.salt.length !== 16) throw new ModelInputError(`salt must be 16 bytes, got ${p.salt.length}`);
  const saltLen = p.salt ? 16 : 0;
  const prefix = Buffer.alloc(saltLen + 8);
  if (p.salt) p.salt.copy(prefix, 0);
  // two 32-bit halves: a BigInt per block costs more than the CRC of the block
  const setSector = (ls: number) => {
    prefix.writeUInt32LE(ls >>> 0, saltLen);
    prefix.writeUInt32LE(Math.floor(ls / 0x100000000), saltLen + 4);
  };

  const writeCrc = (crc: number, out: Buffer, at: number) => {
    if (tagSize >= 4) {
      out.writeUInt32LE(crc, at);
      out.fill(0, at + 4, at + tagSize);
    } else {
      for (let i = 0; i < tagSize; i++) out[at + i] = (crc >>> (8 * i)) & 0xff;
    }
  };
  const writeDigest = (d: Buffer, out: Buffer, at: number) => {
    const n = Math.min(d.length, tagSize);
    d.copy(out, at, 0, n);
    if (n < tagSize) out.fill(0, at + n, at + tagSize);
  };

  switch (hash) {
    case 'crc32c':
      // the short prefix in JS saves a native call per block
      return (ls, data, out, at) => {
        setSector(ls);
        writeCrc(crc32c(data, crc32cSmall(prefix)), out, at);
      };
    case 'crc32':
      return (ls, data, out, at) => {
        setSector(ls);
        writeCrc(kernelCrc32(data, kernelCrc32(prefix)), out, at);
      };
    case 'sha1':
    case 'sha256':
    case 'sha512':
      return (ls, data, out, at) => {
        setSector(ls);
        writeDigest(createHash(hash).update(prefix).update(data).digest(), out, at);
      };
    case 'blake2b-160':
    case 'blake2b-256':
    case 'blake2b-384':
    case 'blake2b-512': {
      const bytes = digestSize(hash);
      return (ls, data, out, at) => {
        setSector(ls);
        writeDigest(new Blake2b(bytes).update(prefix).update(data).digest(), out, at);
      };
    }
    case 'xxhash64':
      return (ls, data, out, at) => {
        setSector(ls);
        writeDigest(new Xxhash64().update(prefix).update(data).digest(), out, at);
      };
    case 'hmac-sha1':
    case 'hmac-sha256':
    case 'hmac-sha512': {
      const key = p.key as Buffer;
      const inner = hash.slice('hmac-'.length);
      return (ls, data, out, at) => {
        setSector(ls);
        writeDigest(createHmac(inner, key).update(prefix).update(data).digest(), out, at);
      };
    }
  }
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Standard CRC-32C of a short buffer (same result as @node-rs/crc32 crc32c). */
export function crc32cSmall(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export function integrityTag(p: TagParams & { logicalSector: number; data: Buffer }): Buffer {
  const out = Buffer.alloc(p.tagSize);
  tagWriter(p)(p.logicalSector, p.data, out, 0);
  return out;
}

/** DISCARD_FILLER: with allow_discards, a discarded block's tag is all 0xf6 and passes dm_integrity_rw_tag(). */
export const DISCARD_FILLER = 0xf6;

export function isDiscardFiller(tag: Uint8Array): boolean {
  for (let i = 0; i < tag.length; i++) if (tag[i] !== DISCARD_FILLER) return false;
  return tag.length > 0;
}
