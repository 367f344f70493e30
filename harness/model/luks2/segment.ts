/**
 * A LUKS2 header's data segment, and the dm-crypt / dm-integrity stack cryptsetup builds from it (lib/luks2/
 * luks2_json_metadata.c LUKS2_activate(), lib/libdevmapper.c cipher_c2dm()), as the model needs it:
 * - dm-integrity sits on the disk at the segment offset (the table's <offset>, its superblock there), with
 *   no internal hash, tag size = the dm-crypt tuple, block size = the segment's sector_size;
 * - dm-crypt sits at offset 0 of the dm-integrity device, iv_offset = iv_tweak, key = the volume key,
 *   `integrity:<tuple>:aead`, and a cipher the kernel knows as AEAD: encryption + integrity from the
 *   header become one crypto API spec (an HMAC integrity becomes authenc(hmac(..),<mode>(<cipher>))).
 * Only the pairs seen in real headers (cryptsetup 2.6.1) are known; anything else is an input error.
 */
import { z } from 'zod';
import { ModelInputError } from '../errors.ts';
import { parseCryptCipher, type CryptAeadCipher, type CryptAeadSpec } from '../crypt/cipher.ts';

/** cryptsetup's default data offset for LUKS2: 2 x 16 KiB metadata + 16 MiB - 32 KiB key slots area. */
export const LUKS2_DEFAULT_DATA_OFFSET = 16 * 1024 * 1024;

/** What `luksFormat --cipher C --integrity I` stores, and the dm-crypt spec `open` gives the kernel. */
export const LUKS2_INTEGRITY_CIPHERS = [
  { cipher: 'aes-gcm-random', integrity: 'aead', headerIntegrity: 'aead', spec: 'capi:gcm(aes)-random' },
  { cipher: 'aes-xts-plain64', integrity: 'hmac-sha256', headerIntegrity: 'hmac(sha256)', spec: 'capi:authenc(hmac(sha256),xts(aes))-plain64' },
] as const satisfies ReadonlyArray<{ cipher: string; integrity: string; headerIntegrity: string; spec: CryptAeadSpec }>;

export type Luks2Cipher = (typeof LUKS2_INTEGRITY_CIPHERS)[number]['cipher'];
export type Luks2Integrity = (typeof LUKS2_INTEGRITY_CIPHERS)[number]['integrity'];

const decimal = z.string().regex(/^\d+$/, 'expected a decimal string').transform(Number);
const segmentSchema = z.object({
  type: z.string(),
  offset: decimal,
  size: z.union([z.literal('dynamic'), decimal]),
  iv_tweak: decimal,
  encryption: z.string(),
  sector_size: z.number().int(),
  integrity: z.object({ type: z.string(), journal_encryption: z.string(), journal_integrity: z.string() }).optional(),
  flags: z.array(z.string()).optional(),
});
const metadataSchema = z.object({
  keyslots: z.record(z.string(), z.object({ type: z.string(), key_size: z.number().int().positive() })),
  segments: z.record(z.string(), segmentSchema),
  digests: z.record(z.string(), z.object({ keyslots: z.array(z.string()), segments: z.array(z.string()) })),
  config: z.object({ json_size: decimal, keyslots_size: decimal }),
});

export interface Luks2DataSegment {
  id: string;
  /** byte offset of the data on the device: where dm-integrity's superblock is */
  offset: number;
  /** 'dynamic' (up to the device end) or bytes */
  size: 'dynamic' | number;
  /** dm-crypt iv_offset */
  ivTweak: number;
  encryption: string;
  sectorSize: number;
  /** the header's integrity type ("aead", "hmac(sha256)"), undefined without authenticated encryption */
  integrity: string | undefined;
  /** bytes of the volume key, from the key slots bound to this segment by a digest */
  volumeKeyBytes: number;
  /** the key slots area ends here (bytes): the data offset cannot be below it */
  keyslotsEnd: number;
}

/** The one data segment of a freshly formatted device (no reencryption in progress). */
export function luks2DataSegment(json: unknown, source?: string): Luks2DataSegment {
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new ModelInputError(`LUKS2 JSON ${i.path.join('.') || '(top)'}: ${i.message}`, { source });
  }
  const m = parsed.data;
  const crypt = Object.entries(m.segments).filter(([, s]) => s.type === 'crypt');
  if (crypt.length !== 1) throw new ModelInputError(`LUKS2 JSON has ${crypt.length} crypt segments; the model knows one (no reencryption)`, { source });
  const [id, seg] = crypt[0]!;
  const slots = Object.values(m.digests).filter((d) => d.segments.includes(id)).flatMap((d) => d.keyslots);
  const sizes = [...new Set(slots.map((k) => m.keyslots[k]?.key_size).filter((n): n is number => n !== undefined))];
  if (sizes.length !== 1) throw new ModelInputError(`LUKS2 JSON: segment ${id} has key slots of ${sizes.length ? sizes.join(', ') : 'no'} key sizes`, { source });
  return {
    id, offset: seg.offset, size: seg.size, ivTweak: seg.iv_tweak, encryption: seg.encryption, sectorSize: seg.sector_size,
    // two header copies of (4 KiB binary header + JSON area), then the key slots area
    integrity: seg.integrity?.type, volumeKeyBytes: sizes[0]!, keyslotsEnd: 2 * (4096 + m.config.json_size) + m.config.keyslots_size,
  };
}

/** The dm-crypt cipher `cryptsetup open` builds for this segment. */
export function luks2SegmentCipher(seg: Pick<Luks2DataSegment, 'encryption' | 'integrity'>, source?: string): CryptAeadCipher {
  const row = LUKS2_INTEGRITY_CIPHERS.find((r) => r.cipher === seg.encryption && r.headerIntegrity === seg.integrity);
  if (row === undefined) {
    const known = LUKS2_INTEGRITY_CIPHERS.map((r) => `${r.cipher} + ${r.headerIntegrity}`).join(', ');
    throw new ModelInputError(`LUKS2 segment ${seg.encryption} with integrity ${seg.integrity ?? 'none'} is not one the model knows (${known})`, { source });
  }
  return parseCryptCipher(row.spec);
}

/** The dm-crypt cipher for a luksFormat command line's --cipher and --integrity. */
export function luks2FormatCipher(cipher: Luks2Cipher, integrity: Luks2Integrity): CryptAeadCipher | undefined {
  const row = LUKS2_INTEGRITY_CIPHERS.find((r) => r.cipher === cipher && r.integrity === integrity);
  return row && parseCryptCipher(row.spec);
}

/** The header integrity type luksFormat --integrity writes. */
export function luks2HeaderIntegrity(integrity: Luks2Integrity): string {
  return LUKS2_INTEGRITY_CIPHERS.find((r) => r.integrity === integrity)!.headerIntegrity;
}

/**
 * luksFormat's --key-size (bits) for a volume key of `keyBytes`: cryptsetup adds the MAC key of an HMAC
 * integrity to it (a 96-byte key for --key-size 512 --integrity hmac-sha256, as luksDump shows "768 bits").
 */
export function luks2KeySizeBits(c: CryptAeadCipher, keyBytes: number): number {
  return (keyBytes - c.macKeySize) * 8;
}
