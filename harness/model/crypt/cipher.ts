/**
 * The dm-crypt AEAD ciphers the harness knows, as a dm-crypt table names them (`capi:<alg>-<ivmode>`), with
 * the sizes that follow from drivers/md/dm-crypt.c:
 * - on-disk tuple (`integrity:<n>:aead`) = auth tag + stored IV, then zero padding (none for these). Only
 *   the `random` IV mode stores its IV (crypt_ctr_ivmode(): integrity_iv_size = iv_size for "random", 0
 *   otherwise; crypt_integrity_ctr(): integrity_tag_size = on_disk_tag_size - integrity_iv_size);
 * - `plain64`: the IV is le64(sector) zero-padded (crypt_iv_plain64_gen()), sector = the 512-byte sector
 *   relative to the crypt target plus iv_offset. This is what cryptsetup makes of LUKS2 `--cipher
 *   aes-xts-plain64 --integrity hmac-sha256`: the kernel only knows `integrity:<n>:aead` and
 *   `integrity:<n>:none` (crypt_ctr_optional(): anything else is "Unknown integrity profile"), so a
 *   non-AEAD cipher with an HMAC is always the AEAD `authenc(hmac(sha256),xts(aes))`;
 * - key: one subkey (tfms_count 1 for capi: specs); for authenc() crypt_setkey() splits it as
 *   encryption key || MAC key, the MAC key as long as the digest (key_mac_size).
 */
import { createHash } from 'node:crypto';
import { ModelInputError } from '../errors.ts';

export const CRYPT_AEAD_SPECS = [
  'capi:gcm(aes)-random',
  'capi:authenc(hmac(sha256),xts(aes))-random',
  'capi:rfc7539(chacha20,poly1305)-random',
  'capi:authenc(hmac(sha256),xts(aes))-plain64',
] as const;
export type CryptAeadSpec = (typeof CRYPT_AEAD_SPECS)[number];

export type AeadKind = 'gcm-aes' | 'authenc-hmac-sha256-xts-aes' | 'chacha20-poly1305';

export interface CryptAeadCipher {
  spec: CryptAeadSpec;
  /** the crypto API algorithm dm-crypt allocates (as /proc/crypto names it) */
  algorithm: string;
  kind: AeadKind;
  /** `random`: a fresh IV per write, stored in the tuple; `plain64`: derived from the sector, not stored */
  ivMode: 'random' | 'plain64';
  /** the IV the AEAD takes (and the AAD carries) */
  ivSize: number;
  /** IV bytes in the tuple: ivSize for random, 0 for plain64 */
  storedIvSize: number;
  authTagSize: number;
  /** bytes per crypt sector in dm-integrity's tag slot: the `integrity:<n>:aead` table argument */
  tupleSize: number;
  /** accepted key lengths in bytes (whole table key) */
  keySizes: readonly number[];
  /** the length the host derives when a scenario gives no key */
  defaultKeySize: number;
  /** authenc only: the MAC key length at the end of the key */
  macKeySize: number;
}

const CIPHERS: Record<CryptAeadSpec, CryptAeadCipher> = {
  'capi:gcm(aes)-random': {
    spec: 'capi:gcm(aes)-random', algorithm: 'gcm(aes)', kind: 'gcm-aes', ivMode: 'random', storedIvSize: 12,
    ivSize: 12, authTagSize: 16, tupleSize: 28, keySizes: [16, 24, 32], defaultKeySize: 32, macKeySize: 0,
  },
  'capi:authenc(hmac(sha256),xts(aes))-random': {
    spec: 'capi:authenc(hmac(sha256),xts(aes))-random', algorithm: 'authenc(hmac(sha256),xts(aes))', kind: 'authenc-hmac-sha256-xts-aes',
    ivMode: 'random', storedIvSize: 16,
    // xts(aes) takes two AES keys (2x16 or 2x32 bytes), then the 32-byte HMAC-SHA256 key
    ivSize: 16, authTagSize: 32, tupleSize: 48, keySizes: [64, 96], defaultKeySize: 96, macKeySize: 32,
  },
  'capi:rfc7539(chacha20,poly1305)-random': {
    spec: 'capi:rfc7539(chacha20,poly1305)-random', algorithm: 'rfc7539(chacha20,poly1305)', kind: 'chacha20-poly1305',
    ivMode: 'random', storedIvSize: 12,
    ivSize: 12, authTagSize: 16, tupleSize: 28, keySizes: [32], defaultKeySize: 32, macKeySize: 0,
  },
  'capi:authenc(hmac(sha256),xts(aes))-plain64': {
    spec: 'capi:authenc(hmac(sha256),xts(aes))-plain64', algorithm: 'authenc(hmac(sha256),xts(aes))', kind: 'authenc-hmac-sha256-xts-aes',
    ivMode: 'plain64', storedIvSize: 0,
    // the tuple is the HMAC alone: LUKS2 --integrity hmac-sha256 gives integrity:32:aead
    ivSize: 16, authTagSize: 32, tupleSize: 32, keySizes: [64, 96], defaultKeySize: 96, macKeySize: 32,
  },
};

export function isCryptAeadSpec(spec: string): spec is CryptAeadSpec {
  return (CRYPT_AEAD_SPECS as readonly string[]).includes(spec);
}

export function parseCryptCipher(spec: string, source?: string): CryptAeadCipher {
  if (!isCryptAeadSpec(spec)) {
    throw new ModelInputError(`unknown dm-crypt AEAD cipher ${JSON.stringify(spec)} (known: ${CRYPT_AEAD_SPECS.join(', ')})`, { source });
  }
  return CIPHERS[spec];
}

/** What is wrong with `key` for this cipher, in words a scenario author can act on; empty when it fits. */
export function cryptKeyProblems(c: CryptAeadCipher, key: Buffer): string[] {
  const out: string[] = [];
  if (!c.keySizes.includes(key.length)) {
    out.push(`${c.spec} needs a key of ${c.keySizes.map((n) => `${n} bytes (${n * 2} hex digits)`).join(' or ')}, got ${key.length} bytes`);
    return out;
  }
  if (c.kind === 'authenc-hmac-sha256-xts-aes') {
    const enc = key.subarray(0, key.length - c.macKeySize);
    // OpenSSL refuses XTS keys with equal halves, and the kernel does too in FIPS mode (xts_verify_key)
    if (enc.subarray(0, enc.length / 2).equals(enc.subarray(enc.length / 2))) out.push('the two halves of the XTS key (the first bytes before the 32-byte MAC key) must differ');
  }
  return out;
}

/** A key of the cipher's default length, derived from `seed` (SHA-256 in counter mode): same seed, same key. */
export function deriveCryptKey(c: CryptAeadCipher, seed: string): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < c.defaultKeySize; i++) parts.push(createHash('sha256').update(`ih-crypt-key\0${seed}\0${i}`).digest());
  return Buffer.concat(parts).subarray(0, c.defaultKeySize);
}
