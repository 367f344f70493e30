/**
 * Checking half of a crash step: for each crash point, the host puts the replayed image on the data disk
 * (only the 4 KiB pages that differ from what the disk holds now), and the same guest opens the stack on
 * it (journal replay or bitmap recalculation happens here), reads every block the workload touched with
 * O_DIRECT and closes it; the crash model judges every block read, and in journal mode the raw disk is
 * audited after close. One guest, one disk slot: reopening costs ~0.8 s under TCG, a boot ~15 s, and the
 * slot never needs more than one image at a time.
 */
import { writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { progressAt } from '../progress.ts';
import { differingRanges, Replayer, replayPosition, type BrokenReplay, type CrashPoint } from '../replay.ts';
import { CrashConsistencyModel, MODE_PROMISES, type WorkloadOp, type WorkloadProgress } from '../../model/crash/consistency.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import { judgeRawAfterClose } from '../../run/session/audit-judge.ts';
import type { CrashContext, Recording, StackContext } from './crash-record.ts';
import { readAt, writeAt } from '../../run/session/disks.ts';
import { ioToolFailure } from '../../run/session/io-refusal.ts';

/** Findings reported per crash point and kept images of failing points: enough to debug, not a flood. */
const FINDINGS_PER_POINT = 4;
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

export async function checkCrashPoints(ctx: CrashContext, rec: Recording, points: CrashPoint[], opts: { broken?: BrokenReplay } = {}): Promise<CheckSummary> {
  const s = ctx.session;
  const model = crashModel(ctx, rec.ops);
  const replayer = new Replayer(rec.logSource, rec.log, rec.base, opts.broken);
  const summary: CheckSummary = { points: 0, byKind: { flush: 0, fua: 0, torn: 0, reordered: 0, end: 0 }, failingPoints: 0, findings: 0, excusedErrors: 0 };
  let open = false;
  for (const [n, point] of points.entries()) {
    const last = n === points.length - 1;
    replayer.advanceTo(replayPosition(point));
    const image = point.apply !== undefined ? replayer.imageWith(point.apply) : replayer.image;
    const onDisk = await readAt(ctx.data.host, 0, ctx.data.size);
    for (const [off, len] of differingRanges(onDisk, image)) await writeAt(ctx.data.host, off, image.subarray(off, off + len));
    const progress = progressAt(rec.log.entries, point.end, rec.ops.length);
    const where = `crash point ${n} (${point.kind}, log entries ${describeEntries(point)}, ops done ${progress.completed}/${rec.ops.length})`;
    summary.points++;
    summary.byKind[point.kind]++;

    const r = await reopenAndJudge(ctx, model, progress, where, { closeAfter: !last });
    open = r.open;
    summary.excusedErrors += r.excusedErrors;
    if (r.findings > 0) {
      summary.failingPoints++;
      summary.findings += r.findings;
      s.note(`${where}: ${r.findings} finding(s)`);
      await keepImage(ctx, summary, n, image);
    }
  }
  // The step leaves the stack open, as it found it; a point that failed to open leaves it closed.
  if (!open) await ctx.stack.open();
  return summary;
}

/**
 * One look at the stack after a crash: open it on the data disk as it is now (recovery runs here), read
 * every block the workload touched, judge each with the model, and (unless it is left open) close it and
 * audit the raw disk where the mode promises consistent tags. Findings are disagreements of the session.
 */
export async function reopenAndJudge(ctx: StackContext, model: CrashConsistencyModel, progress: WorkloadProgress, where: string, opts: { closeAfter: boolean }): Promise<{ open: boolean; findings: number; excusedErrors: number; blocksRead: number }> {
  const s = ctx.session;
  const extents = readExtents(model.touched(), ctx.blockSize, ctx.old.length);
  await s.must(['blockdev', '--flushbufs', ctx.data.guest]);
  const opened = await ctx.stack.open();
  if (!opened.ok) {
    s.disagree({ step: ctx.stepIndex, kind: 'open-failed', expected: `the stack opens at ${where}`, found: opened.why });
    return { open: false, findings: 1, excusedErrors: 0, blocksRead: 0 };
  }
  const failing = new Map<number, number>();
  for (const [off, len] of extents) {
    const r = await s.run(ioArgv({ cmd: 'read', dev: ctx.stack.top, offset: off, length: len, bs: '256K',
      block: ctx.blockSize, out: ctx.out.guest, outOffset: off }));
    if (r.exitCode === 2 || r.exitCode === 3) throw await ioToolFailure(s, ctx.stepIndex, r, 'read', { dev: ctx.stack.top, bytes: ctx.old.length, blockSize: ctx.blockSize });
    for (const [b, e] of failingBlocks(parseIoReport(r.stdout), ctx.blockSize)) failing.set(b, e);
  }
  let found = 0;
  let excused = 0;
  let blocksRead = 0;
  for (const [off, len] of extents) {
    const got = await readAt(ctx.out.host, off, len);
    for (let b = off / ctx.blockSize; b < (off + len) / ctx.blockSize; b++) {
      blocksRead++;
      const at = b * ctx.blockSize - off;
      const errno = failing.get(b) ?? 0;
      const f = model.judge(b, progress, errno, got.subarray(at, at + ctx.blockSize));
      if (f === undefined && errno !== 0) excused++;
      if (f === undefined) continue;
      if (found++ < FINDINGS_PER_POINT) {
        s.disagree({ step: ctx.stepIndex, kind: f.kind, block: b, sector: (b * ctx.blockSize) / 512, expected: `${f.expected} at ${where}`, found: f.found });
      }
    }
  }
  if (!opts.closeAfter) return { open: true, findings: found, excusedErrors: excused, blocksRead };
  await ctx.stack.close();
  if (MODE_PROMISES[ctx.stack.mode].tagsConsistentAfterClose) {
    const { image, params } = ctx.stack.rawAudit();
    const j = judgeRawAfterClose(ctx.stepIndex, image, params, where);
    // a disk the model cannot read is the kernel's doing
    if (j.unreadable !== undefined) throw new KernelFailure(`audit cannot read the disk the kernel left: ${j.unreadable.message}`, { cause: j.unreadable });
    found += j.disagreements.length;
    j.disagreements.forEach((d) => s.disagree(d));
  }
  return { open: false, findings: found, excusedErrors: excused, blocksRead };
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

function describeEntries(p: CrashPoint): string {
  if (p.apply === undefined) return `0..${p.end - 1}`;
  return `0..${p.windowStart - 1} and ${p.apply.join(',').slice(0, 80)}`;
}

/** Block index -> errno for every block that failed, from ih-io's per-block re-reads. */
function failingBlocks(report: ReturnType<typeof parseIoReport>, blockSize: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const l of report.ios) {
    if (l.op !== 'read' || l.ok) continue;
    if (l.errno === 0) throw new KernelFailure(`short read at byte ${l.off} of the integrity device (${l.error ?? 'EOF'})`);
    // A one-block read is not re-read: its own line is the block's.
    if (l.len === blockSize) out.set(l.off / blockSize, l.errno);
  }
  for (const l of report.blocks) if (!l.ok) out.set(l.off / blockSize, l.errno === 0 ? -1 : l.errno);
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
