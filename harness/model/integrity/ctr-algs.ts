/**
 * The crypto API names a dm-integrity table may give, as the kernel's crypto API treats them in
 * dm_integrity_ctr(): get_mac() for internal_hash and journal_mac (crypto_alloc_shash, then setkey when the
 * table gives a key, else -ENOKEY when the hash needs one), create_journal() for journal_crypt
 * (crypto_alloc_skcipher, setkey when a key is given; a keyless cipher that needs one fails its first
 * encryption with -ENOKEY). Every kernel the harness builds or downloads has these (vm/kconfig/base.config;
 * Debian's as modules). A name starting with `nosuch` exists in no kernel; any other name is not modelled.
 */
import { ModelInputError } from '../errors.ts';

export interface HashAlg {
  digestSize: number;
  /** setkey's answer for a key of n bytes: 0, or a negative errno name */
  setkey(n: number): 0 | 'EINVAL' | 'ENOSYS';
  needsKey: boolean;
}

const unkeyed = (digestSize: number): HashAlg => ({ digestSize, setkey: () => 'ENOSYS', needsKey: false });
/** crc32/crc32c take a 4-byte seed as their key (chksum_setkey(): -EINVAL for any other length), xxhash64 an 8-byte one. */
const seeded = (digestSize: number, keyBytes: number): HashAlg => ({ digestSize, setkey: (n) => (n === keyBytes ? 0 : 'EINVAL'), needsKey: false });
const hmac = (digestSize: number): HashAlg => ({ digestSize, setkey: () => 0, needsKey: true });
/** blake2b-N takes an optional key of 1..64 bytes (crypto_blake2b_setkey(): -EINVAL for 0 or more than 64). */
const blake2b = (digestSize: number): HashAlg => ({ digestSize, setkey: (n) => (n >= 1 && n <= 64 ? 0 : 'EINVAL'), needsKey: false });

const HASHES: Record<string, HashAlg> = {
  crc32c: seeded(4, 4),
  crc32: seeded(4, 4),
  sha1: unkeyed(20),
  sha256: unkeyed(32),
  sha512: unkeyed(64),
  'blake2b-160': blake2b(20),
  'blake2b-256': blake2b(32),
  'blake2b-384': blake2b(48),
  'blake2b-512': blake2b(64),
  xxhash64: seeded(8, 8),
  'hmac(sha1)': hmac(20),
  'hmac(sha256)': hmac(32),
  'hmac(sha512)': hmac(64),
};

export interface CipherAlg {
  /** key lengths setkey accepts */
  keyBytes: readonly number[];
  /** block size 1 (a stream mode): create_journal() encrypts the xor pad, else it makes per-section IVs */
  stream: boolean;
}

const CIPHERS: Record<string, CipherAlg> = {
  'ctr(aes)': { keyBytes: [16, 24, 32], stream: true },
  'cbc(aes)': { keyBytes: [16, 24, 32], stream: false },
  'ecb(aes)': { keyBytes: [16, 24, 32], stream: false },
  'xts(aes)': { keyBytes: [32, 48, 64], stream: false },
};

function lookup<T>(table: Record<string, T>, name: string, what: string): T | undefined {
  const alg = table[name];
  if (alg !== undefined) return alg;
  if (name === '' || name.startsWith('nosuch')) return undefined;
  throw new ModelInputError(`${what} '${name}' is not modelled (known: ${Object.keys(table).join(', ')}; a name starting with 'nosuch' exists nowhere)`);
}

export function hashAlg(name: string): HashAlg | undefined {
  return lookup(HASHES, name, 'hash');
}

export function cipherAlg(name: string): CipherAlg | undefined {
  return lookup(CIPHERS, name, 'cipher');
}
