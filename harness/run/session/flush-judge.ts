/**
 * Judges whether a flush of the top device reached the lower disks the model says it must reach
 * (harness/model/integrity/flush-reach.ts), from each disk's flush counter before and after the flush.
 * Pure: the step reads the counters (flushCountersArgv), runs the flush, reads them again and records
 * what this returns; the observations keep both reads, so a rejudge replays them.
 */
import type { FlushDuty, LowerRole } from '../../model/integrity/flush-reach.ts';
import type { Disagreement } from '../../verdict/types.ts';

/** A lower disk the flush may reach: its role in the stack and its name under /sys/block. */
export interface LowerDisk {
  role: LowerRole;
  /** e.g. vdb, nvme0n1 */
  block: string;
}

/**
 * One command printing, per disk, "<block> <write_cache>" then the disk's stat line (fields 16 and 17: flush
 * requests completed and the milliseconds they took, Documentation/block/stat.rst, Linux 5.5+).
 */
export function flushCountersArgv(disks: readonly LowerDisk[]): string[] {
  const script = 'for d in "$@"; do printf "%s %s\\n" "$d" "$(cat /sys/block/$d/queue/write_cache)"; cat /sys/block/$d/stat; done';
  return ['sh', '-c', script, FLUSH_COUNTERS, ...disks.map((d) => d.block)];
}

/** The script's $0: names the command as a read-only question (a reproducer does not replay it). */
export const FLUSH_COUNTERS = 'ih-flush-counters';

export interface FlushCounters {
  /** "write back" (a volatile cache the kernel flushes) or "write through" */
  writeCache: string;
  /** flush requests the disk completed; undefined when the stat line has no field 16 (before Linux 5.5) */
  flushes?: number;
}

/** block -> counters, from flushCountersArgv's output. */
export function parseFlushCounters(text: string): Map<string, FlushCounters> {
  const out = new Map<string, FlushCounters>();
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const head = /^(\S+) (.+)$/.exec(lines[i]!);
    if (head === null) continue;
    const fields = lines[i + 1]!.split(/\s+/).map(Number);
    const flushes = fields.length >= 17 && Number.isSafeInteger(fields[15]) ? fields[15] : undefined;
    out.set(head[1]!, { writeCache: head[2]!, ...(flushes !== undefined ? { flushes } : {}) });
  }
  return out;
}

export interface FlushReachJudgement {
  disagreements: Disagreement[];
  /** one line per disk for the report: role, flushes counted, what the model required */
  notes: string[];
  /** disks whose counters could not be read: nothing was judged for them */
  unobserved: string[];
}

export function judgeFlushReach(step: number, disks: readonly LowerDisk[], duties: readonly FlushDuty[],
  before: ReadonlyMap<string, FlushCounters>, after: ReadonlyMap<string, FlushCounters>): FlushReachJudgement {
  const j: FlushReachJudgement = { disagreements: [], notes: [], unobserved: [] };
  for (const duty of duties) {
    const disk = disks.find((d) => d.role === duty.role);
    const b = disk && before.get(disk.block)?.flushes;
    const a = disk && after.get(disk.block)?.flushes;
    if (disk === undefined || b === undefined || a === undefined) {
      j.unobserved.push(disk?.block ?? duty.role);
      continue;
    }
    const n = a - b;
    j.notes.push(`${duty.role} disk ${disk.block}: ${n} flush(es) counted (model: ${duty.must ? 'at least one' : 'any number'}; ${duty.why})`);
    if (duty.must && n < 1) {
      j.disagreements.push({ step, kind: 'flush-reach', expected: `at least one flush on the ${duty.role} disk ${disk.block} (${duty.why})`, found: `flush counter ${b} -> ${a}` });
    }
  }
  return j;
}
