/**
 * I/O steps on the top device of an integrity stack: the guest moves the bytes with ih-io, the model says
 * what each request must return, and every difference becomes a disagreement. Also keeps the books the
 * later checks need: the mismatch counter's range and which sectors the kernel may name in its log.
 */
import { parseIoReport } from '../../../vm/agent/client.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import type { ExpectedRead, IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { InfraError } from '../../errors.ts';
import type { IoRange } from '../../scenario/schema.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import { ioSize } from '../../run/session/disks.ts';
import { expectedBlockData, judgeRead, judgeUnalignedRead } from '../../run/session/read-judge.ts';
import { judgeDiscard, judgeFlush } from '../../run/session/result-judge.ts';
import { judgeWrite } from '../../run/session/write-judge.ts';
import { flushCountersArgv, judgeFlushReach, parseFlushCounters, type LowerDisk } from '../../run/session/flush-judge.ts';
import type { FlushDuty, LowerRole } from '../../model/integrity/flush-reach.ts';
import { ioToolFailure, type TopDevice } from '../../run/session/io-refusal.ts';
import { readExpectation, type PayloadIndex } from '../../repro/expect.ts';

export interface Range {
  min: number;
  max: number;
}

/** Checksum-failure events: each is one mismatch count and at most one log line. */
export class ChecksumTally {
  /** since the last open: what `dmsetup status` must show */
  window: Range = { min: 0, max: 0 };
  /**
   * What `window` would be had every read failed exactly as the model says: `window` counts the failures
   * the kernel gave, this one the reproducer's check (harness/repro/), which replays the reads on any kernel.
   */
  modelWindow: Range = { min: 0, max: 0 };
  /** the whole cell: bounds the number of log lines */
  cell: Range = { min: 0, max: 0 };
  /** step -> sectors a "Checksum failed" line in that step may name */
  readonly logSectors = new Map<number, Set<number>>();

  resetWindow(): void {
    this.window = { min: 0, max: 0 };
    this.modelWindow = { min: 0, max: 0 };
  }

  addModel(min: number, max: number): void {
    this.modelWindow.min += min;
    this.modelWindow.max += max;
  }

  add(step: number, min: number, max: number, sectors: number[]): void {
    this.window.min += min;
    this.window.max += max;
    this.cell.min += min;
    this.cell.max += max;
    const set = this.logSectors.get(step) ?? new Set<number>();
    sectors.forEach((s) => set.add(s));
    this.logSectors.set(step, set);
  }
}

export interface IoContext {
  s: GuestSession;
  model: IntegrityDeviceModel;
  tally: ChecksumTally;
  /** the top device in the guest */
  top: string;
  payloadDev: string;
  outDev: string;
  outImage: string;
  /** the bytes a write step writes (host-generated) */
  patternFor(step: number, r: IoRange): Buffer;
  transferOffset(step: number): number;
  /** where the model's expected bytes sit in the payload, for the reproducer's record */
  payload: PayloadIndex;
}

/** The top device as the model has it: what ih-io must find when it refuses a request (io-refusal.ts). */
export function topDevice(ctx: IoContext): TopDevice {
  return { dev: ctx.top, bytes: ctx.model.providedDataSectors * 512, blockSize: ctx.model.blockSize };
}

function transferOptions(ctx: IoContext, r: IoRange) {
  const bs = ioSize(r, ctx.model.blockSize);
  return { length: r.length, bs, block: r.unaligned ? bs : ctx.model.blockSize, procs: r.procs, unaligned: r.unaligned, iov: r.iovecs };
}

export async function writeStep(ctx: IoContext, i: number, r: IoRange): Promise<void> {
  const { s, model } = ctx;
  const exp = model.expectWrite(r.offset, r.length);
  const argv = ioArgv({ cmd: 'copy', src: ctx.payloadDev, srcOffset: ctx.transferOffset(i), dst: ctx.top, dstOffset: r.offset, ...transferOptions(ctx, r),
    // an unaligned length cannot be read O_DIRECT from the payload disk: only the write is meant to be misaligned
    srcBuffered: r.unaligned, fua: r.fua, ...(r.buffered ? { dstBuffered: true, fsync: true } : {}) });
  s.expect({ op: 'write', offset: r.offset, length: r.length, bs: ioSize(r, model.blockSize), errno: exp.ok ? 0 : exp.errno });
  const res = await s.run(argv);
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'copy', topDevice(ctx));
  const j = judgeWrite(exp.ok ? { ok: true } : { ok: false, errno: exp.errno }, { step: i, offset: r.offset, length: r.length, bs: ioSize(r, model.blockSize) },
    parseIoReport(res.stdout), res.exitCode);
  if (j.sourceFailed) throw new InfraError(`ih-io copy could not read the payload disk at ${j.sourceFailed.off}: errno ${j.sourceFailed.errno}`);
  j.disagreements.forEach((d) => s.disagree(d));
  if (j.unexplainedExit) throw new KernelFailure(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
  if (exp.ok) model.write(r.offset / 512, ctx.patternFor(i, r));
  else s.note(`write refused as the model says (errno ${exp.errno})`);
}

export async function readStep(ctx: IoContext, i: number, r: IoRange): Promise<void> {
  const { s, model } = ctx;
  const bs = ioSize(r, model.blockSize);
  const outOff = ctx.transferOffset(i);
  // The model's answer for each bs-sized read, asked once: before the I/O (a read expected to fail is a
  // counted kernel line, which must not start inside the previous scenario's ratelimit window) and to judge it.
  const expected: Array<{ off: number; exp: ExpectedRead }> = [];
  if (!r.unaligned) for (let off = r.offset; off < r.offset + r.length; off += bs) expected.push({ off, exp: model.expectRead(off / 512, bs) });
  if (expected.some((e) => !e.exp.ok)) await s.readsMayFail();
  s.expect(r.unaligned ? { op: 'read-unaligned', offset: r.offset, errno: model.directIoProblem(r.offset, r.length)?.errno ?? 0 }
    : readExpectation(model, { offset: r.offset, length: r.length, bs }, ctx.payload));
  const res = await s.run(ioArgv({ cmd: 'read', dev: ctx.top, offset: r.offset, ...transferOptions(ctx, r),
    out: ctx.outDev, outOffset: outOff, logOk: true }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'read', topDevice(ctx));
  const report = parseIoReport(res.stdout);
  if (r.unaligned) {
    const j = judgeUnalignedRead(model, { step: i, offset: r.offset, length: r.length }, report);
    if (j.io === undefined) throw new InfraError(`ih-io read reported nothing for offset ${r.offset}`);
    j.disagreements.forEach((d) => s.disagree(d));
    s.note(`unaligned read of ${r.length} bytes at ${r.offset}: errno ${j.io.errno}`);
    return;
  }
  const req = { step: i, offset: r.offset, length: r.length, bs };
  const got = await s.images.readBlocks(ctx.outImage, outOff, r.length, model.blockSize, expectedBlockData(model, req));
  const j = judgeRead(model, req, report, got);
  if (j.missing.length > 0) throw new InfraError(`ih-io read reported nothing for offset(s) ${j.missing.slice(0, 5).join(', ')}`);
  j.failed.forEach((f) => s.observeFailed(f.block, f.errno));
  j.disagreements.forEach((d) => s.disagree(d));
  j.modelChecksum.forEach((c) => ctx.tally.addModel(c.min, c.max));
  j.checksum.forEach((c) => ctx.tally.add(i, c.min, c.max, c.sectors));
  if (j.shortReads.length > 0) throw new KernelFailure(`short read at offset ${j.shortReads[0]} of ${ctx.top}`);
}

export async function discardStep(ctx: IoContext, i: number, d: { offset: number; length: number }): Promise<void> {
  const { s, model } = ctx;
  const exp = model.expectDiscard(d.offset / 512, d.length / 512);
  s.expect({ op: 'discard', errno: exp.errno });
  const res = await s.run(ioArgv({ cmd: 'discard', dev: ctx.top, offset: d.offset, length: d.length }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'discard', topDevice(ctx));
  const j = judgeDiscard(i, { errno: exp.errno }, d.offset, parseIoReport(res.stdout));
  if (j.result === undefined) throw new InfraError('ih-io discard reported nothing');
  j.disagreements.forEach((x) => s.disagree(x));
  model.discard(d.offset / 512, d.length / 512);
  s.note(`discard: errno ${j.result.errno} (model ${exp.errno})`);
}

/**
 * Where a flush step also observes the lower disks: which they are, and the model's duties for them once
 * their write caches are known (harness/model/integrity/flush-reach.ts).
 */
export interface FlushReach {
  disks: LowerDisk[];
  duties(writeCache: Partial<Record<LowerRole, boolean>>): FlushDuty[];
}

export async function flushStep(ctx: IoContext, i: number, reach?: FlushReach): Promise<void> {
  const { s, model } = ctx;
  const exp = model.expectFlush();
  const before = reach && exp.ok ? parseFlushCounters((await s.must(flushCountersArgv(reach.disks))).stdout.toString()) : undefined;
  s.expect({ op: 'flush', errno: exp.errno });
  const res = await s.run(ioArgv({ cmd: 'flush', dev: ctx.top }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'flush', topDevice(ctx));
  const j = judgeFlush(i, { errno: exp.errno }, parseIoReport(res.stdout));
  if (j.result === undefined) throw new InfraError('ih-io flush reported nothing');
  j.disagreements.forEach((x) => s.disagree(x));
  if (reach === undefined || before === undefined || j.result.errno !== 0) return;
  const after = parseFlushCounters((await s.must(flushCountersArgv(reach.disks))).stdout.toString());
  const cache = Object.fromEntries(reach.disks.map((d) => [d.role, before.get(d.block)?.writeCache === 'write back']));
  const r = judgeFlushReach(i, reach.disks, reach.duties(cache), before, after);
  r.disagreements.forEach((x) => s.disagree(x));
  r.notes.forEach((n) => s.note(n));
  if (r.unobserved.length > 0) s.note(`no flush counters for ${r.unobserved.join(', ')} (/sys/block/<disk>/stat has them from Linux 5.5): the flush's reach is not judged there`);
}
