/**
 * Judges the dm-integrity superblock the kernel wrote (read from the raw image) against what the model
 * predicts: the format plan's sizes (integritysetup, cryptsetup and dmsetup-table stacks alike), the ctr
 * model's flags for a raw table, and a superblock a refused activation must leave as it was. Pure: the
 * step reads the superblock and records what this returns.
 */
import { parseIntegritySuperblock, SB_FLAG, type IntegritySuperblock, type IntegritySuperblockFields } from '../../model/integrity/superblock.ts';
import { ModelInputError } from '../../model/errors.ts';
import type { Disagreement } from '../../verdict/types.ts';

/** The superblock fields a format plan predicts. */
export const FORMAT_FIELDS = ['tagSize', 'log2SectorsPerBlock', 'log2InterleaveSectors', 'journalSections', 'providedDataSectors'] as const;
/** ... and those the ctr model predicts of a raw table's format besides. */
export const CTR_FORMAT_FIELDS = ['version', 'tagSize', 'log2SectorsPerBlock', 'log2InterleaveSectors', 'journalSections', 'providedDataSectors', 'log2BlocksPerBitmapBit'] as const;

type NumberField = (typeof CTR_FORMAT_FIELDS)[number];

/** What the model says the superblock holds. */
export interface SuperblockExpectation {
  /** field -> value, checked in this order */
  fields: ReadonlyArray<readonly [NumberField, number]>;
  /** who says so, named in each disagreement ("the ctr model"); none: the field alone */
  source?: string;
  /** flag bits the model predicts (mask) and their values */
  flags?: { mask: number; value: number };
  /** whether the fixed-padding flag must be set, and why */
  fixedPadding?: { set: boolean; why: string };
}

/** The predicted fields of `want`, in FORMAT_FIELDS order. */
export function planned(want: Pick<IntegritySuperblock, (typeof FORMAT_FIELDS)[number]>): Array<[NumberField, number]> {
  return FORMAT_FIELDS.map((f) => [f, want[f]]);
}

/** The flag bits the ctr model predicts of a raw table's format. */
export const CTR_FLAGS = SB_FLAG.HAVE_JOURNAL_MAC | SB_FLAG.FIXED_PADDING | SB_FLAG.FIXED_HMAC;

/** What the ctr model's superblock says of the one the kernel formats: every predicted field and flag bit. */
export function ctrExpectation(want: IntegritySuperblockFields): SuperblockExpectation {
  return { fields: CTR_FORMAT_FIELDS.map((f) => [f, want[f]] as const), source: 'the ctr model', flags: { mask: CTR_FLAGS, value: want.flags } };
}

/** Format drift: each field, flag and the fixed-padding flag of `sb` that is not what the model says (step -1: setup). */
export function judgeSuperblockFormat(sb: IntegritySuperblock, want: SuperblockExpectation, step = -1): Disagreement[] {
  const out: Disagreement[] = [];
  const by = want.source !== undefined ? ` (${want.source})` : '';
  for (const [f, w] of want.fields) {
    if (sb[f] !== w) out.push({ step, kind: 'format', expected: `superblock ${f} ${w}${by}`, found: String(sb[f]) });
  }
  const fl = want.flags;
  if (fl !== undefined && (sb.flags & fl.mask) !== (fl.value & fl.mask)) {
    out.push({ step, kind: 'format', expected: `superblock flags 0x${(fl.value & fl.mask).toString(16)} of 0x${fl.mask.toString(16)}${by}`, found: `0x${(sb.flags & fl.mask).toString(16)}` });
  }
  const fp = want.fixedPadding;
  if (fp !== undefined && sb.fixedPadding !== fp.set) {
    out.push({ step, kind: 'format', expected: `${fp.set ? '' : 'no '}fixed-padding flag (${fp.why})`, found: `flags 0x${sb.flags.toString(16)}` });
  }
  return out;
}

/**
 * The superblock area the kernel wrote, parsed; `unreadable` when the model cannot read it (the kernel wrote
 * it, so the caller's kernel failure, named after `what`).
 */
export function readKernelSuperblock(area: Buffer, what: string): { sb: IntegritySuperblock } | { unreadable: string; cause: ModelInputError } {
  try {
    return { sb: parseIntegritySuperblock(area, what) };
  } catch (e) {
    if (e instanceof ModelInputError) return { unreadable: e.message, cause: e };
    throw e;
  }
}

/** A refused activation must not write the superblock: its area before and after. */
export function judgeSuperblockKept(step: number, before: Buffer, after: Buffer, expected: string): Disagreement[] {
  return after.equals(before) ? [] : [{ step, kind: 'superblock-rewritten', expected, found: 'the superblock area changed' }];
}

/**
 * The superblock an accepted raw table formatted (the tables step reads it once the table is removed)
 * against the one the ctr model predicted: every field and the flag bits the model predicts.
 */
export function judgeCtrSuperblock(step: number, area: Buffer, want: IntegritySuperblockFields, what: string): Disagreement[] {
  const read = readKernelSuperblock(area, what);
  if ('unreadable' in read) return [{ step, kind: 'format', expected: 'the superblock the ctr formats', found: read.unreadable }];
  return judgeSuperblockFormat(read.sb, ctrExpectation(want), step);
}
