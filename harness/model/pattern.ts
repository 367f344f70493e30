import { createCipheriv, createHash } from 'node:crypto';

/**
 * Host-generated data the guest writes: an AES-256-CTR keystream keyed by `seed`, addressed by byte offset,
 * so every block is distinct (a relocated block is detectable) and any range can be regenerated alone.
 */
export function pattern(seed: string, offset: number, length: number): Buffer {
  if (offset % 16 !== 0) throw new RangeError(`pattern offset ${offset} is not a multiple of 16`);
  const key = createHash('sha256').update(seed).digest();
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(offset / 16), 8);
  const c = createCipheriv('aes-256-ctr', key, iv);
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}
