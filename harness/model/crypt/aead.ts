/**
 * One crypt sector through the AEAD the way crypt_convert_block_aead() (drivers/md/dm-crypt.c) calls it:
 *   AAD = le64(sector) || IV, data = the sector, then the auth tag.
 * `sector` is the 512-byte sector relative to the crypt target's start, also with 4096-byte crypt sectors
 * (the AAD takes `cc_sector - iv_offset` and cc_sector = io->sector + iv_offset, so iv_offset cancels).
 *
 * authenc(hmac(sha256),xts(aes)) is encrypt-then-MAC (crypto/authenc.c): XTS with the IV as tweak, then
 * HMAC-SHA256 over AAD || ciphertext, the full 32-byte digest as tag. Its key is enc key || MAC key.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { ModelInputError } from '../errors.ts';
import type { CryptAeadCipher } from './cipher.ts';

export interface Sealed {
  ciphertext: Buffer;
  authTag: Buffer;
}

/**
 * The plain64 IV of a crypt sector (crypt_iv_plain64_gen()): le64(iv_sector), zero-padded to the IV size.
 * iv_sector is the 512-byte sector relative to the crypt target plus the table's iv_offset, also with
 * 4096-byte crypt sectors (dmreq->iv_sector = cc_sector; only iv_large_sectors would shift it).
 */
export function plain64Iv(ivSector: number, ivSize: number): Buffer {
  if (!Number.isSafeInteger(ivSector) || ivSector < 0) throw new ModelInputError(`IV sector must be a non-negative integer, got ${ivSector}`);
  const iv = Buffer.alloc(ivSize);
  iv.writeBigUInt64LE(BigInt(ivSector), 0);
  return iv;
}

export function sectorAad(sector: number, iv: Buffer): Buffer {
  if (!Number.isSafeInteger(sector) || sector < 0) throw new ModelInputError(`sector must be a non-negative integer, got ${sector}`);
  const aad = Buffer.alloc(8 + iv.length);
  aad.writeBigUInt64LE(BigInt(sector), 0);
  iv.copy(aad, 8);
  return aad;
}

/** The AEAD itself, with any AAD: what the known-answer tests exercise. */
export function aeadSeal(c: CryptAeadCipher, key: Buffer, iv: Buffer, aad: Buffer, plaintext: Buffer): Sealed {
  checkSizes(c, key, iv);
  if (c.kind === 'authenc-hmac-sha256-xts-aes') {
    const { enc, mac } = splitAuthencKey(c, key);
    const x = createCipheriv(xtsName(enc), enc, iv);
    const ciphertext = Buffer.concat([x.update(plaintext), x.final()]);
    return { ciphertext, authTag: createHmac('sha256', mac).update(aad).update(ciphertext).digest() };
  }
  const x = createCipheriv(streamName(c, key) as 'aes-256-gcm', key, iv, { authTagLength: c.authTagSize });
  x.setAAD(aad);
  const ciphertext = Buffer.concat([x.update(plaintext), x.final()]);
  return { ciphertext, authTag: x.getAuthTag() };
}

/** The plaintext, or undefined when the tag does not authenticate (the kernel's -EBADMSG). */
export function aeadOpen(c: CryptAeadCipher, key: Buffer, iv: Buffer, aad: Buffer, ciphertext: Buffer, authTag: Buffer): Buffer | undefined {
  checkSizes(c, key, iv);
  if (authTag.length !== c.authTagSize) throw new ModelInputError(`${c.spec}: auth tag must be ${c.authTagSize} bytes, got ${authTag.length}`);
  if (c.kind === 'authenc-hmac-sha256-xts-aes') {
    const { enc, mac } = splitAuthencKey(c, key);
    const want = createHmac('sha256', mac).update(aad).update(ciphertext).digest();
    if (!timingSafeEqual(want, authTag)) return undefined;
    const x = createDecipheriv(xtsName(enc), enc, iv);
    return Buffer.concat([x.update(ciphertext), x.final()]);
  }
  const x = createDecipheriv(streamName(c, key) as 'aes-256-gcm', key, iv, { authTagLength: c.authTagSize });
  x.setAAD(aad);
  x.setAuthTag(authTag);
  const out = x.update(ciphertext);
  try {
    x.final();
  } catch {
    return undefined;
  }
  return out;
}

export function sealSector(c: CryptAeadCipher, key: Buffer, sector: number, iv: Buffer, plaintext: Buffer): Sealed {
  return aeadSeal(c, key, iv, sectorAad(sector, iv), plaintext);
}

export function openSector(c: CryptAeadCipher, key: Buffer, sector: number, iv: Buffer, ciphertext: Buffer, authTag: Buffer): Buffer | undefined {
  return aeadOpen(c, key, iv, sectorAad(sector, iv), ciphertext, authTag);
}

function checkSizes(c: CryptAeadCipher, key: Buffer, iv: Buffer): void {
  if (!c.keySizes.includes(key.length)) throw new ModelInputError(`${c.spec}: key must be ${c.keySizes.join(' or ')} bytes, got ${key.length}`);
  if (iv.length !== c.ivSize) throw new ModelInputError(`${c.spec}: IV must be ${c.ivSize} bytes, got ${iv.length}`);
}

function splitAuthencKey(c: CryptAeadCipher, key: Buffer): { enc: Buffer; mac: Buffer } {
  return { enc: key.subarray(0, key.length - c.macKeySize), mac: key.subarray(key.length - c.macKeySize) };
}

function xtsName(enc: Buffer): 'aes-128-xts' | 'aes-256-xts' {
  return enc.length === 32 ? 'aes-128-xts' : 'aes-256-xts';
}

function streamName(c: CryptAeadCipher, key: Buffer): string {
  return c.kind === 'chacha20-poly1305' ? 'chacha20-poly1305' : `aes-${key.length * 8}-gcm`;
}
