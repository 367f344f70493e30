/**
 * The `crypt-aead` stack: dm-crypt with authenticated encryption over dm-integrity without an internal
 * hash, both built with `dmsetup` tables in the guest. Kept apart from schema.ts so the integrity stack's
 * file stays as it is; schema.ts only adds this to the stack union.
 */
import { z } from 'zod';
import { CRYPT_AEAD_SPECS } from '../../model/crypt/cipher.ts';

export const CRYPT_FLAGS = ['same_cpu_crypt', 'submit_from_crypt_cpus', 'no_read_workqueue', 'no_write_workqueue'] as const;

export const cryptAeadStackSchema = z.strictObject({
  type: z.literal('crypt-aead'),
  /** same rule as disks[].name */
  disk: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case name like "data"'),
  cipher: z.enum(CRYPT_AEAD_SPECS),
  /** The table key in hex; when absent the host derives one from the scenario id. */
  key: z.string({ error: 'expected a hex string (quote it when it has only digits)' })
    .regex(/^([0-9a-f]{2})+$/, 'expected an even number of lower-case hex digits').optional(),
  /** dm-crypt sector_size, and the dm-integrity block size under it (the kernel requires them equal). */
  sectorSize: z.union([z.literal(512), z.literal(4096)], { error: 'expected 512 or 4096' }).default(512),
  /** dm-integrity mode under dm-crypt: J, B or D in the table. */
  mode: z.enum(['journal', 'bitmap', 'direct']).default('journal'),
  /**
   * allow_discards on both layers. dm-integrity refuses it without an internal hash, so the runner checks
   * that refusal and builds dm-integrity without it, dm-crypt with it (model/crypt/discard.ts).
   */
  allowDiscards: z.boolean().default(false),
  /**
   * dm-crypt's performance flags (dm-crypt.rst): where the crypto runs and who submits the bios. They change
   * no byte on disk, so the model is the same; they move reads and writes onto other paths through the target.
   */
  flags: z.array(z.enum(CRYPT_FLAGS)).default([]),
});

/** The flags and the dm-crypt target version that introduced each. */
export const CRYPT_FLAG_VERSIONS: Record<(typeof CRYPT_FLAGS)[number], string> = {
  same_cpu_crypt: '1.14.0', submit_from_crypt_cpus: '1.14.0', no_read_workqueue: '1.22.0', no_write_workqueue: '1.22.0',
};

export type CryptAeadStack = z.infer<typeof cryptAeadStackSchema>;
