/**
 * The crypto API names a dm-crypt table may give, as crypt_ctr() allocates them: crypto_alloc_aead() for a
 * table with `integrity:<n>:aead`, crypto_alloc_skcipher() otherwise, crypto_alloc_ahash() for the MAC inside
 * `authenc(<mac>,<cipher>)` (crypt_ctr_auth_cipher()). The sizes are the kernel's (crypto/gcm.c,
 * crypto/chacha20poly1305.c, crypto/authenc.c, crypto/xts.c; ivsize, maxauthsize, the setauthsize and
 * setkey checks). Every kernel the harness runs has these (vm/kconfig/base.config; Debian's as modules). A
 * name starting with `nosuch` exists in no kernel; any other name is not modelled.
 */
import { ModelInputError } from '../errors.ts';

export interface AeadAlg {
  ivSize: number;
  /** crypto_aead_setauthsize(): the auth tag sizes it takes (0 and anything above maxauthsize never) */
  authSizes: readonly number[];
  /** setkey: the key lengths it takes; for authenc(), the encryption part's (the MAC key is the digest's length) */
  keyBytes: readonly number[];
  /** authenc(<mac>,...): the MAC crypt_ctr_auth_cipher() allocates to learn its digest size */
  mac?: string;
}

export interface SkcipherAlg {
  ivSize: number;
  blockSize: number;
  keyBytes: readonly number[];
}

const range = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
const AES = [16, 24, 32];
// xts(aes): two AES keys of the same size (xts_verify_key(), then aes_expandkey() on each half)
const XTS_AES = [32, 48, 64];

const AEADS: Record<string, AeadAlg> = {
  // crypto_gcm_check_authsize(): 4, 8, 12..16
  'gcm(aes)': { ivSize: 12, authSizes: [4, 8, 12, 13, 14, 15, 16], keyBytes: AES },
  // chachapoly_setauthsize(): the Poly1305 digest only
  'rfc7539(chacha20,poly1305)': { ivSize: 12, authSizes: [16], keyBytes: [32] },
  // authenc has no setauthsize of its own: 1..maxauthsize (the HMAC's digest)
  'authenc(hmac(sha256),xts(aes))': { ivSize: 16, authSizes: range(1, 32), keyBytes: XTS_AES, mac: 'hmac(sha256)' },
  'authenc(hmac(sha256),cbc(aes))': { ivSize: 16, authSizes: range(1, 32), keyBytes: AES, mac: 'hmac(sha256)' },
};

const SKCIPHERS: Record<string, SkcipherAlg> = {
  'xts(aes)': { ivSize: 16, blockSize: 16, keyBytes: XTS_AES },
  'cbc(aes)': { ivSize: 16, blockSize: 16, keyBytes: AES },
  'ecb(aes)': { ivSize: 0, blockSize: 16, keyBytes: AES },
  'ctr(aes)': { ivSize: 16, blockSize: 1, keyBytes: AES },
};

const MACS: Record<string, number> = { 'hmac(sha256)': 32, 'hmac(sha1)': 20, 'hmac(sha512)': 64 };

function lookup<T>(table: Record<string, T>, name: string, what: string, elsewhere: Record<string, unknown>): T | undefined {
  const alg = table[name];
  if (alg !== undefined) return alg;
  // an AEAD asked for as a skcipher (or the other way round) is not found as that type
  if (name in elsewhere || name === '' || /(^|\()nosuch/.test(name)) return undefined;
  throw new ModelInputError(`${what} '${name}' is not modelled (known: ${Object.keys(table).join(', ')}; a name starting with 'nosuch' exists nowhere)`);
}

export function aeadAlg(name: string): AeadAlg | undefined {
  return lookup(AEADS, name, 'AEAD', SKCIPHERS);
}

export function skcipherAlg(name: string): SkcipherAlg | undefined {
  return lookup(SKCIPHERS, name, 'skcipher', AEADS);
}

/** The digest size of a MAC crypto_alloc_ahash() finds, or undefined (-ENOENT). */
export function macDigestSize(name: string): number | undefined {
  return lookup(MACS, name, 'MAC', {});
}
