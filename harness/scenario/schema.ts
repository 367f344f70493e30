import { z } from 'zod';
import { parseSize } from './size.ts';
import { cryptAeadStackSchema } from './crypt-schema.ts';
import { luks2StackSchema } from './luks-schema.ts';

/** A byte count: a number or a string like "64MiB", "4k". */
const size = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 4096, "4KiB" or "64MiB", got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

const name = z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a lower-case name like "data"');

export const diskSchema = z.strictObject({ name, size });

export const integrityStackSchema = z.strictObject({
  type: z.literal('integrity'),
  disk: name,
  hash: z.enum(['crc32c', 'crc32', 'sha1', 'sha256', 'hmac-sha256']).default('crc32c'),
  /** Hex key for hmac-sha256. */
  key: z.string().regex(/^([0-9a-f]{2})+$/, 'expected a hex string').optional(),
  mode: z.enum(['journal', 'bitmap', 'direct']).default('journal'),
  sectorSize: z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(512),
  allowDiscards: z.boolean().default(false),
});

export const stackSchema = z.discriminatedUnion('type', [integrityStackSchema, cryptAeadStackSchema, luks2StackSchema]);

/** An I/O range on the top device of the stack. `bs: block` means one I/O per integrity block. */
const ioRange = z.strictObject({
  offset: size,
  length: size,
  bs: z.union([z.literal('block'), size]).default('block'),
});

const corrupt = z.strictObject({
  /** Block indices on the top device (in units of the stack's sector size). */
  blocks: z.array(z.number().int().nonnegative()).min(1),
  /** `iv`: the IV in a dm-crypt AEAD tuple (crypt-aead and luks2 stacks only); `tag` there is the auth tag. */
  where: z.enum(['data', 'tag', 'iv']).default('data'),
});

export const stepSchema = z.union([
  z.strictObject({ write: ioRange }),
  z.strictObject({ read: ioRange }),
  z.strictObject({ discard: z.strictObject({ offset: size, length: size }) }),
  z.strictObject({ corrupt }),
  z.literal('close'),
  z.literal('open'),
  z.literal('status'),
]);

export const requiresSchema = z
  .strictObject({
    /** Device-mapper targets that must be listed by `dmsetup targets` (e.g. integrity, crypt). */
    targets: z.array(z.string()).default([]),
  })
  .default({ targets: [] });

export const scenarioSchema = z.strictObject({
  description: z.string().min(10, 'one sentence saying what the scenario does'),
  requires: requiresSchema,
  disks: z.array(diskSchema).min(1),
  stack: stackSchema,
  steps: z.array(stepSchema).min(1),
  /** Seconds one guest step may take before the cell is a `hang`. */
  stepTimeout: z.number().positive().default(60),
});

export type ScenarioBody = z.infer<typeof scenarioSchema>;
export type Step = z.infer<typeof stepSchema>;
export type IntegrityStack = z.infer<typeof integrityStackSchema>;
export type IoRange = z.infer<typeof ioRange>;
