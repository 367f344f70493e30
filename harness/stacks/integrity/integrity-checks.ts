/**
 * The checks an integrity cell makes once its steps are done, with the stack closed: the kernel log against
 * what the model predicted per step (log-judge.ts), and the whole raw image against the model
 * (audit-judge.ts). This side only observes (dmesg, the kept images) and records what the judges return.
 */
import { readFile } from 'node:fs/promises';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import type { IntegrityStack } from './integrity-schema.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import type { FlippedByte } from './integrity-faults.ts';
import type { ChecksumTally } from './integrity-io.ts';
import { judgeImageAudit, judgeUnreadableImage } from '../../run/session/audit-judge.ts';
import { judgeKernelLog } from '../../run/session/log-judge.ts';

/** The kernel log of the whole cell against the model's tally of checksum failures and required lines. */
export function checkKernelLog(
  s: GuestSession, step: number, dmesg: string, tally: ChecksumTally, required: Map<number, string[]>, sectorsPerBlock: number,
): void {
  const j = judgeKernelLog(step, dmesg, tally, required, sectorsPerBlock);
  j.disagreements.forEach((d) => s.disagree(d));
  s.note(`kernel log: ${j.lines} checksum line(s), model ${j.bounds.min}..${j.bounds.max}`);
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
  const j = judgeImageAudit(step, data, {
    hash: stack.hash, ...(stack.key !== undefined ? { key: Buffer.from(stack.key, 'hex') } : {}),
    ...(meta !== undefined ? { meta } : {}), expected: model,
  }, inJournal, { record: 50, keep: 50 });
  if (j.report === undefined) {
    const sb = await s.images.readAt(images.meta ?? images.data, 0, 16);
    s.disagree(judgeUnreadableImage(step, j.unreadable!.message, sb));
    return;
  }
  if (j.owed > 0) s.note(`audit: ${j.owed} difference(s) in blocks the closed journal still holds, left to its replay`);
  j.disagreements.forEach((d) => s.disagree(d));
  const b = j.report.blocks;
  s.note(`audit: ${b.total} blocks (${b.valid} valid, ${b.filler} filler, ${b.blank} blank, ${b.invalid} invalid); ${j.report.disagreementCount} disagreement(s)`);
}
