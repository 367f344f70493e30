/**
 * The `luks2` stack: `cryptsetup luksFormat --type luks2 --integrity ...` on the disk, opened with
 * `cryptsetup open`, so cryptsetup (not the harness) builds dm-integrity and dm-crypt. Kept apart from
 * schema.ts, which only adds this to the stack union.
 */
import { z } from 'zod';
import type { Luks2Cipher, Luks2Integrity } from '../../model/luks2/segment.ts';

// the pairs the model knows are in LUKS2_INTEGRITY_CIPHERS; luks-check.ts refuses the others
const ciphers = ['aes-gcm-random', 'aes-xts-plain64'] as const satisfies readonly Luks2Cipher[];
const integrities = ['aead', 'hmac-sha256'] as const satisfies readonly Luks2Integrity[];

export const luks2StackSchema = z.strictObject({
  type: z.literal('luks2'),
  /** same rule as disks[].name */
  disk: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case name like "data"'),
  /** luksFormat --cipher */
  cipher: z.enum(ciphers),
  /** luksFormat --integrity */
  integrity: z.enum(integrities),
  /** The volume key in hex (--volume-key-file; with an HMAC integrity: encryption key || MAC key); when absent the host derives one from the scenario id. */
  volumeKey: z.string({ error: 'expected a hex string (quote it when it has only digits)' })
    .regex(/^([0-9a-f]{2})+$/, 'expected an even number of lower-case hex digits').optional(),
  /** luksFormat --sector-size: the dm-crypt sector and the dm-integrity block */
  sectorSize: z.union([z.literal(512), z.literal(4096)], { error: 'expected 512 or 4096' }).default(512),
  /** luksFormat --integrity-no-wipe: never-written sectors keep no valid tag */
  integrityNoWipe: z.boolean().default(false),
  /** The first open asks for --allow-discards (cryptsetup refuses it for integrity devices), then opens without. */
  allowDiscards: z.boolean().default(false),
});

export type Luks2Stack = z.infer<typeof luks2StackSchema>;
