/**
 * Judges `dmsetup status` lines against the model: dm-integrity's provided data sectors against the
 * superblock the model read, its mismatch counter against the range of checksum failures the model counted
 * since the last activation (or 0 where the model says nothing is verified), and dm-crypt's length. Pure:
 * the step reads the line and records what this returns.
 */
import type { Disagreement } from '../../verdict/types.ts';

export interface IntegrityStatus {
  /** absent where the target has no counter (1.0.0) */
  mismatches?: number;
  providedDataSectors: number;
  recalcSector: string;
}

/**
 * What dm-integrity's status line carries after "0 <len> integrity", by target version (the stack's
 * requirements module says which): `full` (1.2.0 on) "<mismatches> <provided_data_sectors> <recalc_sector|->";
 * `mismatches` (1.1.0) the counter alone; `none` (1.0.0) nothing.
 */
export type IntegrityStatusFields = 'none' | 'mismatches' | 'full';

/**
 * `dmsetup status <name>` in the given form, or undefined when the line is not that form. Before 1.2.0 the
 * provided data sectors are the table's length (the device maps all of them) and nothing is recalculated.
 */
export function parseIntegrityStatus(line: string, fields: IntegrityStatusFields = 'full'): IntegrityStatus | undefined {
  if (fields === 'full') {
    const m = line.trim().match(/^\d+ \d+ integrity (\d+) (\d+) (\S+)/);
    if (!m) return undefined;
    return { mismatches: Number(m[1]), providedDataSectors: Number(m[2]), recalcSector: m[3]! };
  }
  const m = line.trim().match(fields === 'none' ? /^0 (\d+) integrity$/ : /^0 (\d+) integrity (\d+)$/);
  if (!m) return undefined;
  return { ...(m[2] !== undefined ? { mismatches: Number(m[2]) } : {}), providedDataSectors: Number(m[1]), recalcSector: '-' };
}

/** What the model says a dm-integrity status line must show. */
export interface IntegrityStatusExpectation {
  /** from the superblock */
  providedDataSectors: number;
  /** the mismatch counter's range */
  mismatches: { min: number; max: number };
  /** why the counter is what it is, where a range alone does not say */
  why?: string;
  /** the line's form on this kernel's target (default `full`) */
  fields?: IntegrityStatusFields;
}

export interface StatusJudgement {
  /** undefined: the line is not a dm-integrity status line (the caller's kernel failure) */
  status?: IntegrityStatus;
  disagreements: Disagreement[];
}

export function judgeIntegrityStatus(step: number, line: string, want: IntegrityStatusExpectation): StatusJudgement {
  const status = parseIntegrityStatus(line, want.fields);
  if (status === undefined) return { disagreements: [] };
  const out: StatusJudgement = { status, disagreements: [] };
  if (status.providedDataSectors !== want.providedDataSectors) {
    out.disagreements.push({ step, kind: 'status-size', expected: `${want.providedDataSectors} provided data sectors (superblock)`, found: String(status.providedDataSectors) });
  }
  const { min, max } = want.mismatches;
  if (status.mismatches !== undefined && (status.mismatches < min || status.mismatches > max)) {
    out.disagreements.push({ step, kind: 'mismatch-counter', expected: `${min === max ? String(min) : `${min}..${max}`}${want.why !== undefined ? ` (${want.why})` : ''}`, found: String(status.mismatches) });
  }
  return out;
}

/** dm-crypt's status line must map the provided data sectors of the dm-integrity device beneath it. */
export function judgeCryptStatus(step: number, line: string, providedDataSectors: number): Disagreement[] {
  const text = line.trim();
  if (new RegExp(`^0 ${providedDataSectors} crypt\\b`).test(text)) return [];
  return [{ step, kind: 'status-size', expected: `0 ${providedDataSectors} crypt`, found: text }];
}
