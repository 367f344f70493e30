/**
 * Judges `dmsetup status` lines against the model: dm-integrity's provided data sectors against the
 * superblock the model read, its mismatch counter against the range of checksum failures the model counted
 * since the last activation (or 0 where the model says nothing is verified), and dm-crypt's length. Pure:
 * the step reads the line and records what this returns.
 */
import type { Disagreement } from './observations.ts';

export interface IntegrityStatus {
  mismatches: number;
  providedDataSectors: number;
  recalcSector: string;
}

/** `dmsetup status <name>`: "0 <len> integrity <mismatches> <provided_data_sectors> <recalc_sector|->". */
export function parseIntegrityStatus(line: string): IntegrityStatus | undefined {
  const m = line.trim().match(/^\d+ \d+ integrity (\d+) (\d+) (\S+)/);
  if (!m) return undefined;
  return { mismatches: Number(m[1]), providedDataSectors: Number(m[2]), recalcSector: m[3]! };
}

/** What the model says a dm-integrity status line must show. */
export interface IntegrityStatusExpectation {
  /** from the superblock */
  providedDataSectors: number;
  /** the mismatch counter's range */
  mismatches: { min: number; max: number };
  /** why the counter is what it is, where a range alone does not say */
  why?: string;
}

export interface StatusJudgement {
  /** undefined: the line is not a dm-integrity status line (the caller's kernel failure) */
  status?: IntegrityStatus;
  disagreements: Disagreement[];
}

export function judgeIntegrityStatus(step: number, line: string, want: IntegrityStatusExpectation): StatusJudgement {
  const status = parseIntegrityStatus(line);
  if (status === undefined) return { disagreements: [] };
  const out: StatusJudgement = { status, disagreements: [] };
  if (status.providedDataSectors !== want.providedDataSectors) {
    out.disagreements.push({ step, kind: 'status-size', expected: `${want.providedDataSectors} provided data sectors (superblock)`, found: String(status.providedDataSectors) });
  }
  const { min, max } = want.mismatches;
  if (status.mismatches < min || status.mismatches > max) {
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
