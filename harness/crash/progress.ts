/**
 * How far the workload had got at a point of the log, from the marks the runner puts in it: `ih-start`
 * once the stack is open on the log-writes device, `ih-op-<i>` after workload operation i returned. A mark
 * is queued behind everything the target had logged when it arrived, and an operation issues no I/O
 * before the previous operation's mark, so at a point after `ih-op-<i>` (and before the next mark)
 * operations 0..i have completed and only operation i+1 may have started.
 */
import { isMark, type LogEntry } from './log-writes.ts';
import type { WorkloadProgress } from '../model/crash/consistency.ts';

export const START_MARK = 'ih-start';
export const CLOSED_MARK = 'ih-closed';
export const opMark = (i: number) => `ih-op-${i}`;

export function progressAt(entries: LogEntry[], end: number, opCount: number): WorkloadProgress {
  let started = false;
  let completed = 0;
  for (let i = 0; i < end && i < entries.length; i++) {
    const e = entries[i]!;
    if (!isMark(e)) continue;
    if (e.mark === START_MARK) started = true;
    const m = /^ih-op-(\d+)$/.exec(e.mark ?? '');
    if (m) completed = Math.max(completed, Number(m[1]) + 1);
  }
  if (!started) return { completed: 0, issued: 0 };
  return { completed, issued: Math.min(opCount, completed + 1) };
}

/** The marks the log must hold, in order, for the runner's bookkeeping to be trusted. */
export function expectedMarks(opCount: number): string[] {
  return [START_MARK, ...Array.from({ length: opCount }, (_, i) => opMark(i)), CLOSED_MARK];
}
