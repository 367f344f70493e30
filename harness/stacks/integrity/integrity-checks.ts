/**
 * The checks an integrity cell makes once its steps are done, with the stack closed: the kernel log against
 * what the model predicted per step, and the whole raw image against the model (audit.ts).
 */
import { readFile } from 'node:fs/promises';
import { auditIntegrityImage } from '../../model/integrity/audit.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { ModelInputError } from '../../model/errors.ts';
import { CHECKSUM_FAILED, checksumLineBlockSector, checksumLineBounds } from '../../model/integrity/log.ts';
import type { IntegrityStack } from './integrity-schema.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import type { FlippedByte } from './integrity-faults.ts';
import type { ChecksumTally } from './integrity-io.ts';
import { splitByStep } from '../../run/session/kernel-log.ts';

/**
 * Every "Checksum failed" line must name a sector of a block the model expected to fail in that step; their number
 * must fit the ratelimit bounds; every line the model requires must be there.
 */
export function judgeKernelLog(
  s: GuestSession, step: number, dmesg: string, tally: ChecksumTally, required: Map<number, string[]>, sectorsPerBlock: number,
): void {
  const byStep = splitByStep(dmesg);
  let lines = 0;
  for (const [i, text] of byStep) {
    for (const line of text) {
      const m = line.match(CHECKSUM_FAILED);
      if (!m) continue;
      lines++;
      const sector = Number.parseInt(m[1]!, 16);
      const allowed = tally.logSectors.get(i);
      if (!allowed?.has(checksumLineBlockSector(sector, sectorsPerBlock))) {
        s.disagree({ step: i, kind: 'log-unexpected', sector, expected: allowed?.size ? `checksum lines for sectors ${[...allowed].map((x) => `0x${x.toString(16)}`).join(', ')}` : 'no checksum line', found: line.trim() });
      }
    }
  }
  const bounds = checksumLineBounds(tally.cell);
  if (lines < bounds.min || lines > bounds.max) {
    s.disagree({ step, kind: 'log-count', expected: `${bounds.min}..${bounds.max} "Checksum failed" lines (events ${tally.cell.min}..${tally.cell.max}, ratelimited)`, found: String(lines) });
  }
  for (const [i, want] of required) {
    const text = byStep.get(i) ?? [];
    for (const w of want) {
      if (!text.some((l) => l.includes(w))) s.disagree({ step: i, kind: 'log-missing', expected: `a kernel line containing '${w}'`, found: text.filter((l) => /device-mapper/.test(l)).join(' | ') || 'no device-mapper line' });
    }
  }
  s.note(`kernel log: ${lines} checksum line(s), model ${bounds.min}..${bounds.max}`);
}

/** Reads an image, undoing bytes the host flipped (a refused superblock must not hide the rest from the audit). */
async function imageFor(path: string, undo: FlippedByte[]): Promise<Buffer | string> {
  if (undo.length === 0) return path;
  const buf = await readFile(path);
  for (const f of undo) buf[f.offset] = f.original;
  return buf;
}

/** The raw images against the model's history of the device, block by block. */
export async function auditStack(
  s: GuestSession, step: number, stack: IntegrityStack, model: IntegrityDeviceModel,
  images: { data: string; meta?: string }, undo: FlippedByte[],
  /** blocks whose newest copy a closed journal still holds (journal.ts): their place may hold an older one */
  inJournal: ReadonlySet<number> = new Set(),
): Promise<void> {
  const data = await imageFor(await s.images.wholeImage(images.data), undo.filter((f) => f.image === 'data'));
  const meta = images.meta !== undefined ? await imageFor(await s.images.wholeImage(images.meta), undo.filter((f) => f.image === 'meta')) : undefined;
  let report;
  try {
    report = auditIntegrityImage(data, {
      hash: stack.hash, ...(stack.key !== undefined ? { key: Buffer.from(stack.key, 'hex') } : {}),
      ...(meta !== undefined ? { meta } : {}), expected: model, maxDisagreements: 50 + inJournal.size,
    });
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    const sb = await s.images.readAt(images.meta ?? images.data, 0, 16);
    s.disagree({ step, kind: 'audit-unreadable', expected: 'an image the model can read', found: `${e.message} (first bytes ${sb.toString('hex')})` });
    return;
  }
  const owed = report.disagreements.filter((d) => d.block !== null && inJournal.has(d.block));
  if (owed.length > 0) s.note(`audit: ${owed.length} difference(s) in blocks the closed journal still holds, left to its replay`);
  for (const d of report.disagreements.filter((x) => !owed.includes(x)).slice(0, 50)) {
    s.disagree({ step, kind: `audit-${d.kind}`, ...(d.block !== null ? { block: d.block } : {}), ...(d.sector !== null ? { sector: d.sector } : {}), expected: d.expected, found: `${d.found} (image offset ${d.offset})` });
  }
  const b = report.blocks;
  s.note(`audit: ${b.total} blocks (${b.valid} valid, ${b.filler} filler, ${b.blank} blank, ${b.invalid} invalid); ${report.disagreementCount} disagreement(s)`);
}
