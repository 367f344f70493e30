/**
 * The crash steps' judges, pure: a crash point's look at the stack (did it open, what ih-io reported for
 * each read, what each block read back as) against the crash model, and a workload operation's result while
 * the workload runs. The steps (crash-record.ts, crash-check.ts, crash-kill.ts) observe, record and hand what
 * the guest returned to these, so a replay of a stored run (harness/rejudge/) judges it the same way.
 */
import { parseIoReport, type ExecResult, type IoReport } from '../../../vm/agent/client.ts';
import { blockDigest } from '../../run/session/host-images.ts';
import { readBackBlocks, type ReadBack, type ReadBackBlock } from './crash-readback.ts';
import type { Disagreement } from '../../verdict/types.ts';
import type { CrashConsistencyModel, Version, WorkloadProgress } from '../../model/crash/consistency.ts';
import type { CrashOp } from '../../scenario/schema.ts';

/** Findings reported per crash point: enough to debug, not a flood. */
export const FINDINGS_PER_POINT = 4;

export interface CrashPointObservation {
  /** "crash point 3 (flush, log entries 0..41, ops done 2/8)": where the texts say it was */
  where: string;
  progress: WorkloadProgress;
  /** why the stack did not open at this point; undefined when it opened */
  openFailed?: string;
  /** ih-io's report of each read, in the order they ran */
  reads: IoReport[];
  /** every block read back, as the version of it that it equals or (equal to none) its digest (crash-readback.ts) */
  readBack: Pick<ReadBack, 'runs' | 'other'>;
}

export interface CrashPointJudgement {
  /** the first FINDINGS_PER_POINT findings, as disagreements */
  disagreements: Disagreement[];
  /** every finding, the ones not reported too */
  findings: number;
  /** reads that failed where the mode allows it (direct mode, blocks with unflushed writes) */
  excusedErrors: number;
  blocksRead: number;
  /** a read ih-io cut short without an errno: the kernel's failure, and nothing at the point is judged */
  shortRead?: string;
}

/** What one read's report says: each block that failed with its errno, or a read ih-io cut short (no errno). */
export type CrashReadJudgement = { failing: Map<number, number> } | { shortRead: string };

/**
 * Block index -> errno for every block a read failed, from ih-io's per-block re-reads. A read that ended
 * early without an errno is a short read of the stack's top device: the kernel's doing, and nothing after
 * it can be judged.
 */
export function judgeCrashRead(report: IoReport, blockSize: number): CrashReadJudgement {
  const failing = new Map<number, number>();
  for (const l of report.ios) {
    if (l.op !== 'read' || l.ok) continue;
    if (l.errno === 0) return { shortRead: `short read at byte ${l.off} of the integrity device (${l.error ?? 'EOF'})` };
    // A one-block read is not re-read: its own line is the block's.
    if (l.len === blockSize) failing.set(l.off / blockSize, l.errno);
  }
  for (const l of report.blocks) if (!l.ok) failing.set(l.off / blockSize, l.errno === 0 ? -1 : l.errno);
  return { failing };
}

/** Digests of the model's versions of a block, worked out once per model (a crash step asks for the same ones at every point). */
const versionDigests = new WeakMap<CrashConsistencyModel, Map<string, string | undefined>>();

function digestOf(model: CrashConsistencyModel, block: number, v: Version): string | undefined {
  let m = versionDigests.get(model);
  if (m === undefined) versionDigests.set(model, (m = new Map()));
  const key = `${block}:${v}`;
  if (!m.has(key)) {
    const c = model.content(block, v);
    m.set(key, c === undefined ? undefined : blockDigest(c));
  }
  return m.get(key);
}

/**
 * A crash point's judgement: an open that failed is one finding; otherwise every block read back is judged
 * by the crash model (the mode's promise: which versions it may hold, whether its read may fail). The step
 * stops at a read cut short (judgeCrashRead) before it reads further; here it leaves nothing to judge.
 */
export function judgeCrashPoint(step: number, model: CrashConsistencyModel, o: CrashPointObservation): CrashPointJudgement {
  const out: CrashPointJudgement = { disagreements: [], findings: 0, excusedErrors: 0, blocksRead: 0 };
  if (o.openFailed !== undefined) {
    out.disagreements.push({ step, kind: 'open-failed', expected: `the stack opens at ${o.where}`, found: o.openFailed });
    out.findings = 1;
    return out;
  }
  const failing = new Map<number, number>();
  for (const r of o.reads) {
    const j = judgeCrashRead(r, model.blockSize);
    if ('shortRead' in j) return { ...out, shortRead: j.shortRead };
    for (const [b, e] of j.failing) failing.set(b, e);
  }
  for (const seen of readBackBlocks(o.readBack)) {
    const b = seen.block;
    out.blocksRead++;
    const errno = failing.get(b) ?? 0;
    const f = model.judgeHolding(b, o.progress, errno, holding(model, seen));
    if (f === undefined && errno !== 0) out.excusedErrors++;
    if (f === undefined) continue;
    if (out.findings++ < FINDINGS_PER_POINT) {
      out.disagreements.push({ step, kind: f.kind, block: b, sector: (b * model.blockSize) / 512, expected: `${f.expected} at ${o.where}`, found: f.found });
    }
  }
  return out;
}

/**
 * Whether a block read back holds version v: for a block recorded as version u, whether v's bytes are u's
 * (two versions may share bytes, and a block holding them holds both); for a block equal to no version,
 * whether its digest is v's. A version the block never had (a record the current workload does not
 * explain) holds only itself.
 */
function holding(model: CrashConsistencyModel, seen: ReadBackBlock): (v: Version) => boolean {
  const b = seen.block;
  if ('foreign' in seen) return (v) => digestOf(model, b, v) === seen.sha256;
  const u = seen.version;
  const versions = model.versions(b);
  if (!versions.includes(u)) return (v) => v === u;
  const bytes = model.content(b, u);
  return (v) => v === u || (versions.includes(v) && bytes !== undefined && (model.content(b, v)?.equals(bytes) ?? false));
}

export interface WorkloadJudgement {
  disagreements: Disagreement[];
  /** ih-io itself broke (exit 2 or 3): the harness's error, not the kernel's */
  helperFailed?: string;
}

/** A workload operation must succeed: a failed write or flush is a disagreement, a broken helper an error. */
export function judgeWorkloadResult(step: number, j: number, op: CrashOp, r: Pick<ExecResult, 'exitCode' | 'stdout' | 'stderr'>): WorkloadJudgement {
  if (op === 'flush') {
    if (r.exitCode === 0) return { disagreements: [] };
    return { disagreements: [{ step, kind: 'flush-failed', expected: `workload[${j}] flush succeeds`, found: `exit ${r.exitCode}: ${r.stdout.toString().trim()}` }] };
  }
  if (r.exitCode === 2 || r.exitCode === 3) return { disagreements: [], helperFailed: `ih-io copy exited ${r.exitCode}: ${r.stderr.toString().trim()}` };
  return {
    disagreements: parseIoReport(r.stdout).ios.filter((l) => l.op === 'write' && !l.ok)
      .map((f) => ({ step, kind: 'write-failed', sector: f.off / 512, expected: `workload[${j}] write succeeds`, found: `errno ${f.errno} (${f.error ?? '?'})` })),
  };
}
