/**
 * Checking half of a crash step: for each crash point, the host puts the replayed image on the data disk
 * (only the 4 KiB pages that differ from what the disk holds now), and the same guest opens the stack on
 * it (journal replay or bitmap recalculation happens here), reads every block the workload touched with
 * O_DIRECT and closes it; what it saw is recorded (each block as the version of it that it equals,
 * crash-readback.ts) and judged by judgeCrashPoint (crash-judge.ts), and in journal mode the raw disk is
 * audited after close. One guest, one disk slot: reopening costs ~0.8 s under TCG, a boot ~15 s, and the
 * slot never needs more than one image at a time.
 */
import { writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { differingRanges, Replayer, replayPosition, type BrokenReplay, type CrashPoint } from '../replay.ts';
import { CrashConsistencyModel, MODE_PROMISES, type WorkloadOp, type WorkloadProgress } from '../../model/crash/consistency.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import { judgeRawAfterClose } from '../../run/session/audit-judge.ts';
import type { CrashContext, Recording, StackContext } from './crash-record.ts';
import { readAt, writeAt } from '../../run/session/disks.ts';
import { ioToolFailure } from '../../run/session/io-refusal.ts';
import { judgeCrashPoint, judgeCrashRead, type CrashPointObservation } from './crash-judge.ts';
import { blocksOf, encodeReadBack } from './crash-readback.ts';

/** Images of failing points kept: enough to debug, not a flood. */
const IMAGES_KEPT = 3;

export interface CheckSummary {
  points: number;
  byKind: Record<CrashPoint['kind'], number>;
  failingPoints: number;
  findings: number;
  /** reads that failed where the mode allows it (direct mode, blocks with unflushed writes) */
  excusedErrors: number;
}

export function crashModel(ctx: StackContext, ops: WorkloadOp[]): CrashConsistencyModel {
  return new CrashConsistencyModel(ctx.stack.mode, ctx.blockSize, ctx.old, ops, ctx.oldUnreadable);
}

/**
 * Checks the stack at every crash point of the recording. Live, the host first puts the point's image on the
 * data disk; a replay of a stored run has no log to rebuild it from and takes the guest's answers as the run
 * recorded them.
 */
export async function checkCrashPoints(ctx: CrashContext, rec: Recording, opts: { broken?: BrokenReplay } = {}): Promise<CheckSummary> {
  const s = ctx.session;
  const model = crashModel(ctx, rec.ops);
  const replayer = rec.live !== undefined ? new Replayer(rec.live.logSource, rec.live.log, rec.live.base, opts.broken) : undefined;
  const summary: CheckSummary = { points: 0, byKind: { flush: 0, fua: 0, torn: 0, reordered: 0, end: 0 }, failingPoints: 0, findings: 0, excusedErrors: 0 };
  let open = false;
  for (const [n, point] of rec.points.entries()) {
    const last = n === rec.points.length - 1;
    const image = replayer !== undefined ? await putImage(ctx, replayer, rec.live!.points[n]!) : undefined;
    const progress = { completed: point.completed, issued: point.issued };
    const where = `crash point ${n} (${point.kind}, log entries ${point.entries}, ops done ${progress.completed}/${rec.ops.length})`;
    summary.points++;
    summary.byKind[point.kind]++;

    const r = await reopenAndJudge(ctx, model, progress, where, { closeAfter: !last });
    open = r.open;
    summary.excusedErrors += r.excusedErrors;
    if (r.findings > 0) {
      summary.failingPoints++;
      summary.findings += r.findings;
      s.note(`${where}: ${r.findings} finding(s)`);
      if (image !== undefined) await keepImage(ctx, summary, n, image);
    }
  }
  // The step leaves the stack open, as it found it; a point that failed to open leaves it closed.
  if (!open) await ctx.stack.open();
  return summary;
}

/** Puts a crash point's image on the data disk: only the 4 KiB pages that differ from what the disk holds now. */
async function putImage(ctx: CrashContext, replayer: Replayer, point: CrashPoint): Promise<Buffer> {
  replayer.advanceTo(replayPosition(point));
  const image = point.apply !== undefined ? replayer.imageWith(point.apply) : replayer.image;
  const onDisk = await readAt(ctx.data.host, 0, ctx.data.size);
  for (const [off, len] of differingRanges(onDisk, image)) await writeAt(ctx.data.host, off, image.subarray(off, off + len));
  return image;
}

/**
 * One look at the stack after a crash: open it on the data disk as it is now (recovery runs here), read
 * every block the workload touched, judge what it saw with the crash model (judgeCrashPoint), and (unless
 * it is left open) close it and audit the raw disk where the mode promises consistent tags. Findings are
 * disagreements of the session.
 */
export async function reopenAndJudge(ctx: StackContext, model: CrashConsistencyModel, progress: WorkloadProgress, where: string, opts: { closeAfter: boolean }): Promise<{ open: boolean; findings: number; excusedErrors: number; blocksRead: number }> {
  const s = ctx.session;
  const seen = await observeCrashPoint(ctx, model, progress, where);
  const j = judgeCrashPoint(ctx.stepIndex, model, seen);
  if (j.shortRead !== undefined) throw new KernelFailure(j.shortRead);
  j.disagreements.forEach((d) => s.disagree(d));
  let found = j.findings;
  if (seen.openFailed !== undefined) return { open: false, findings: found, excusedErrors: 0, blocksRead: 0 };
  if (!opts.closeAfter) return { open: true, findings: found, excusedErrors: j.excusedErrors, blocksRead: j.blocksRead };
  await ctx.stack.close();
  if (MODE_PROMISES[ctx.stack.mode].tagsConsistentAfterClose) {
    // the image is the disk as this point left it, which no run keeps: the audit's findings are what is recorded
    let cause: Error | undefined;
    const a = await s.images.hostWork('crash-audit', async () => {
      const { image, params } = ctx.stack.rawAudit();
      const j = judgeRawAfterClose(ctx.stepIndex, image, params, where);
      cause = j.unreadable;
      return { where, disagreements: j.disagreements, ...(j.unreadable !== undefined ? { unreadable: j.unreadable.message } : {}) };
    });
    // a disk the model cannot read is the kernel's doing
    if (a.unreadable !== undefined) throw new KernelFailure(`audit cannot read the disk the kernel left: ${a.unreadable}`, cause !== undefined ? { cause } : {});
    found += a.disagreements.length;
    a.disagreements.forEach((d) => s.disagree(d));
  }
  return { open: false, findings: found, excusedErrors: j.excusedErrors, blocksRead: j.blocksRead };
}

/**
 * What the guest shows at a crash point, judging nothing: whether the stack opens (and why not), ih-io's
 * report of each read of the blocks the workload touched (it stops at a read cut short: the kernel failed
 * there), and each block as it read back.
 */
async function observeCrashPoint(ctx: StackContext, model: CrashConsistencyModel, progress: WorkloadProgress, where: string): Promise<CrashPointObservation> {
  const s = ctx.session;
  const extents = readExtents(model.touched(), ctx.blockSize, ctx.old.length);
  await s.must(['blockdev', '--flushbufs', ctx.data.guest]);
  const opened = await ctx.stack.open();
  const seen: CrashPointObservation = { where, progress, reads: [], readBack: { runs: [], other: [] } };
  if (!opened.ok) return { ...seen, openFailed: opened.why };
  for (const [off, len] of extents) {
    const r = await s.run(ioArgv({ cmd: 'read', dev: ctx.stack.top, offset: off, length: len, bs: '256K',
      block: ctx.blockSize, out: ctx.out.guest, outOffset: off }));
    if (r.exitCode === 2 || r.exitCode === 3) throw await ioToolFailure(s, ctx.stepIndex, r, 'read', { dev: ctx.stack.top, bytes: ctx.old.length, blockSize: ctx.blockSize });
    const report = parseIoReport(r.stdout);
    seen.reads.push(report);
    if ('shortRead' in judgeCrashRead(report, ctx.blockSize)) return seen;
  }
  // the out disk's blocks as versions of each block (a replay gets the run's record back, reading nothing)
  const readBack = await s.images.hostWork('crash-readback', async () => {
    const read: Array<{ offset: number; bytes: Buffer }> = [];
    for (const [off, len] of extents) read.push({ offset: off, bytes: await readAt(ctx.out.host, off, len) });
    return { where, ...encodeReadBack(model, read) };
  });
  checkReadBackCovers(readBack, extents, ctx.blockSize, where);
  return { ...seen, readBack };
}

/** A recorded read-back must hold the blocks the step reads, each once: a replay's record may be of other reads. */
function checkReadBackCovers(rb: { where: string; blockSize: number } & Parameters<typeof blocksOf>[0], extents: Array<[number, number]>, blockSize: number, where: string): void {
  const want: number[] = [];
  for (const [off, len] of extents) for (let b = off / blockSize; b < (off + len) / blockSize; b++) want.push(b);
  const got = blocksOf(rb);
  if (rb.blockSize !== blockSize || rb.where !== where || got.length !== want.length || got.some((b, i) => b !== want[i])) {
    throw new Error(`the read-back recorded at ${rb.where} (${got.length} blocks of ${rb.blockSize} bytes) is not the ${want.length} blocks of ${blockSize} bytes the step reads at ${where}`);
  }
}

/**
 * What each crash point reads: the blocks the workload touched, as extents (gaps under 256 KiB are read
 * too, so a handful of I/O commands cover a scattered workload; the blocks in them must read old).
 */
export function readExtents(touched: number[], blockSize: number, deviceBytes: number, gap = 256 * 1024): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const b of touched) {
    const off = b * blockSize;
    const last = out.at(-1);
    if (last && off - (last[0] + last[1]) < gap) last[1] = Math.min(off + blockSize, deviceBytes) - last[0];
    else out.push([off, blockSize]);
  }
  return out;
}

/** A sparse copy of a failing crash point's image, to reproduce it by hand. */
async function keepImage(ctx: CrashContext, summary: CheckSummary, n: number, image: Buffer): Promise<void> {
  if (summary.failingPoints > IMAGES_KEPT) return;
  const path = join(ctx.dir, `crash-point-${n}.img`);
  await writeFile(path, '');
  await truncate(path, image.length);
  for (const [off, len] of differingRanges(Buffer.alloc(image.length), image)) await writeAt(path, off, image.subarray(off, off + len));
}
