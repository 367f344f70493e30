/**
 * Judges a closed stack's raw image against the model's history of the device, block by block (the model's
 * audit, model/integrity/audit.ts): every finding is a disagreement, except in blocks whose newest copy a
 * closed journal still holds (its next replay owes them); and a crash step's raw disk after close, where
 * every tag must verify. Pure over the image the step kept: the step hands over the file (or its bytes,
 * with the host's superblock flips undone) and records what this returns.
 */
import { auditIntegrityImage, type IntegrityAuditParams, type IntegrityAuditReport } from '../../model/integrity/audit.ts';
import { ModelInputError } from '../../model/errors.ts';
import type { Disagreement } from '../../verdict/types.ts';

export interface AuditJudgement {
  /** undefined when the model cannot read the image (`unreadable` says why) */
  report?: IntegrityAuditReport;
  unreadable?: ModelInputError;
  disagreements: Disagreement[];
  /** findings in blocks the closed journal still holds, left to its replay */
  owed: number;
}

export interface AuditLimits {
  /** findings the model records beyond those the journal owes */
  record: number;
  /** findings that become disagreements (default: every one recorded) */
  keep?: number;
}

export function judgeImageAudit(
  step: number, image: Buffer | string, params: Omit<IntegrityAuditParams, 'maxDisagreements'>,
  inJournal: ReadonlySet<number>, limits: AuditLimits,
): AuditJudgement {
  let report: IntegrityAuditReport;
  try {
    report = auditIntegrityImage(image, { ...params, maxDisagreements: limits.record + inJournal.size });
  } catch (e) {
    if (e instanceof ModelInputError) return { unreadable: e, disagreements: [], owed: 0 };
    throw e;
  }
  const owed = report.disagreements.filter((d) => d.block !== null && inJournal.has(d.block));
  const disagreements = report.disagreements.filter((x) => !owed.includes(x)).slice(0, limits.keep).map((d): Disagreement => ({
    step, kind: `audit-${d.kind}`, ...(d.block !== null ? { block: d.block } : {}), ...(d.sector !== null ? { sector: d.sector } : {}),
    expected: d.expected, found: `${d.found} (image offset ${d.offset})`,
  }));
  return { report, disagreements, owed: owed.length };
}

/** An image the model cannot read, with the first bytes of its superblock area as the evidence. */
export function judgeUnreadableImage(step: number, why: string, firstBytes: Buffer): Disagreement {
  return { step, kind: 'audit-unreadable', expected: 'an image the model can read', found: `${why} (first bytes ${firstBytes.toString('hex')})` };
}

export interface RawAfterCloseJudgement {
  /** none, or one naming the first finding and how many there are */
  disagreements: Disagreement[];
  /** the model cannot read the disk the kernel left (the step fails the cell on it) */
  unreadable?: ModelInputError;
}

/**
 * A crash step's raw disk after close, audited alone (no history: the crash model judges the data), where
 * the mode promises consistent tags: the first finding at the crash point `where`, and how many there are.
 */
export function judgeRawAfterClose(step: number, image: Buffer | string, params: Omit<IntegrityAuditParams, 'maxDisagreements'>, where: string): RawAfterCloseJudgement {
  let report: IntegrityAuditReport;
  try {
    report = auditIntegrityImage(image, { ...params, maxDisagreements: 1 });
  } catch (e) {
    if (e instanceof ModelInputError) return { disagreements: [], unreadable: e };
    throw e;
  }
  const d = report.disagreements[0];
  if (d === undefined) return { disagreements: [] };
  return {
    disagreements: [{
      step, kind: 'raw-tag-mismatch', ...(d.block !== null ? { block: d.block } : {}), ...(d.sector !== null ? { sector: d.sector } : {}),
      found: `${report.disagreementCount} audit finding(s); first ${d.kind}: ${d.found}`, expected: `every tag on the raw disk verifies after close at ${where}`,
    }],
  };
}
