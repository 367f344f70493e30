/** The schema of an integrity stack (stack.type: integrity): dm-integrity from integritysetup or a raw table. */
import { z } from 'zod';
import { MAX_TAG_SIZE } from '../../model/integrity/superblock.ts';
import { INTEGRITY_HASHES } from '../../model/integrity/tags.ts';
import { name, size } from '../../scenario/fields.ts';

const hexKey = z.string().regex(/^([0-9a-f]{2})+$/, 'expected a hex string');

export const integrityStackSchema = z.strictObject({
  type: z.literal('integrity'),
  disk: name,
  /** A separate metadata disk (integritysetup --data-device): superblock, journal and tags live on it. */
  metaDisk: name.optional(),
  /**
   * The device dm-integrity's data sit on: the disk itself; `linear`, a dm-linear device over it, so an
   * ioError step can map dm-error in; `delay`, a dm-delay device over it holding reads, writes and flushes
   * back by `lowerDelay`'s milliseconds each, so completions come back in another order than submissions.
   */
  lower: z.enum(['disk', 'linear', 'delay']).default('disk'),
  /** lower: delay only: milliseconds dm-delay holds each read, write and flush back (its table's three delays). */
  lowerDelay: z.strictObject({
    read: z.number().int().min(0).max(1000),
    write: z.number().int().min(0).max(1000),
    flush: z.number().int().min(0).max(1000),
  }).optional(),
  hash: z.enum(INTEGRITY_HASHES).default('crc32c'),
  /** integritysetup --tag-size: the digest truncated or zero-padded to this many bytes (default: the digest's size). */
  tagSize: z.number().int().min(1).max(MAX_TAG_SIZE).optional(),
  /** Hex key for the hmac-* hashes. */
  key: hexKey.optional(),
  mode: z.enum(['journal', 'bitmap', 'direct']).default('journal'),
  sectorSize: z.union([z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]).default(512),
  allowDiscards: z.boolean().default(false),
  /** integritysetup format --journal-size (bytes; the geometry is read back from the superblock). */
  journalSize: size.optional(),
  /**
   * The journal's own protection (integritysetup --journal-integrity / --journal-crypt, at format and open):
   * a MAC over each journal section's tags and data, and the journal's sectors encrypted, with these hex keys.
   */
  journalIntegrity: z.strictObject({ alg: z.enum(['hmac-sha1', 'hmac-sha256', 'hmac-sha512']), key: hexKey }).optional(),
  journalCrypt: z.strictObject({ alg: z.enum(['ctr-aes', 'cbc-aes']), key: hexKey.refine((k) => [32, 48, 64].includes(k.length), 'expected an AES key of 16, 24 or 32 bytes in hex') }).optional(),
  /** integritysetup format --no-wipe: never-written blocks keep whatever tags the disk held (reads of them fail). */
  noWipe: z.boolean().default(false),
  /**
   * integritysetup open --integrity-recalculate, at every open: the kernel recomputes every tag from the data on
   * disk in the background; the cell waits until `dmsetup status` says it is done before the next step.
   * `reset` is --integrity-recalculate-reset (the table's reset_recalculate): every open starts over from the
   * first sector, also where the superblock says a recalculation was cut short or already reached the end.
   */
  recalculate: z.union([z.boolean(), z.literal('reset')]).default(false),
  /** open options that change when the kernel commits and flushes, not the format (journal or bitmap mode). */
  journalWatermark: z.number().int().min(0).max(100).optional(),
  journalCommitTime: z.number().int().min(1).optional(),
  bufferSectors: z.number().int().min(1).optional(),
  bitmapSectorsPerBit: z.number().int().min(1).refine((n) => (n & (n - 1)) === 0, 'expected a power of two').optional(),
  bitmapFlushTime: z.number().int().min(1).optional(),
  /** Format-time interleave area size in 512-byte sectors (a power of two); small areas put area edges within reach. */
  interleaveSectors: z.number().int().min(8).max(2 ** 30).refine((n) => (n & (n - 1)) === 0, 'expected a power of two').optional(),
  /**
   * Activate with `dmsetup create` from a raw dm-integrity table instead of integritysetup: the table carries
   * what the fields above say (internal_hash, block_size, meta_device, journal_sectors, ...) and these extra
   * optional arguments (e.g. fix_padding, fix_hmac, legacy_recalculate) after them. Nothing formats or wipes
   * first: the kernel formats the zeroed disk itself, so never-written blocks fail to read (as with noWipe).
   */
  table: z.strictObject({ options: z.array(z.string().regex(/^\S+$/, 'expected one table argument without blanks')).default([]) }).optional(),
});

/** The stack's runtime tunables and the integritysetup open option of each. */
export const OPEN_OPTIONS = [
  ['journalWatermark', '--journal-watermark'], ['journalCommitTime', '--journal-commit-time'], ['bufferSectors', '--buffer-sectors'],
  ['bitmapSectorsPerBit', '--bitmap-sectors-per-bit'], ['bitmapFlushTime', '--bitmap-flush-time'],
] as const satisfies ReadonlyArray<readonly [keyof IntegrityStack, string]>;

export type IntegrityStack = z.infer<typeof integrityStackSchema>;
/** The modes an integrity stack opens in: the stack's own, and recovery for one open at a time. */
export type IntegrityOpenMode = IntegrityStack['mode'] | 'recovery';
/** An integrity stack as one open builds it. */
export type OpenedIntegrityStack = Omit<IntegrityStack, 'mode'> & { mode: IntegrityOpenMode };
