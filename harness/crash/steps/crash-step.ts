/**
 * A crash step: record the workload beneath the stack with dm-log-writes, pick crash points in the log,
 * and check the stack at each in the same guest (crash-record.ts, crash-check.ts). In a replay of a stored
 * run the log is not there: the points and what the guest showed at each are the run's observations.
 */
import { promiseText } from '../../model/crash/consistency.ts';
import type { CrashStep } from '../../scenario/schema.ts';
import { checkCrashPoints } from './crash-check.ts';
import { recordCrashWorkload, type CrashContext } from './crash-record.ts';

export async function runCrashStep(ctx: CrashContext, c: CrashStep): Promise<void> {
  const started = Date.now();
  const rec = await recordCrashWorkload(ctx, c);
  try {
    const recordedMs = Date.now() - started;
    if (ctx.broken) ctx.session.note(`deliberately broken replay (test seam): writes to bytes ${ctx.broken.start}+${ctx.broken.length} dropped`);
    const sum = await checkCrashPoints(ctx, rec, ctx.broken ? { broken: ctx.broken } : {});
    const k = sum.byKind;
    ctx.session.note(`${ctx.stack.kind} ${ctx.stack.mode} mode promises: ${promiseText(ctx.stack.kind, ctx.stack.mode)}`);
    ctx.session.note(`log of ${rec.entries} entries recorded in ${(recordedMs / 1000).toFixed(1)}s; ` +
      `${sum.points} crash points checked (${k.flush} flush, ${k.fua} FUA, ${k.torn} torn, ${k.reordered} reordered, ${k.end} end) in ${((Date.now() - started - recordedMs) / 1000).toFixed(1)}s; ` +
      `${sum.failingPoints} failing; ${sum.excusedErrors} block read(s) failed where the mode allows it`);
  } finally {
    rec.live?.logSource.close();
  }
}
