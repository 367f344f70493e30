/** The crash steps' pure judges, fed doctored observations: what a crash point or a workload result must be judged as. */
import { describe, expect, it } from 'vitest';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { CrashConsistencyModel, type WorkloadOp } from '../../model/crash/consistency.ts';
import { FINDINGS_PER_POINT, judgeCrashPoint, judgeCrashRead, judgeWorkloadResult, type CrashPointObservation } from './crash-judge.ts';
import { encodeReadBack } from './crash-readback.ts';

const BS = 512;
const fill = (byte: number, n = BS) => Buffer.alloc(n, byte);
/** 8 blocks of old content 0x11; op 0 writes blocks 2..3 (0x22) with FUA, op 1 is a flush, op 2 writes block 5 (0x33) */
const OLD = fill(0x11, 8 * BS);
const OPS: WorkloadOp[] = [
  { kind: 'write', offset: 2 * BS, data: fill(0x22, 2 * BS), fua: true },
  { kind: 'flush' },
  { kind: 'write', offset: 5 * BS, data: fill(0x33), fua: false },
];
const journal = () => new CrashConsistencyModel('journal', BS, OLD, OPS);
const direct = () => new CrashConsistencyModel('direct', BS, OLD, OPS);
const report = (...lines: Array<Record<string, unknown>>) => parseIoReport(lines.map((l) => JSON.stringify({ us: 1, ...l })).join('\n'));
/** blocks read back from `offset` on, as the step records them (versions of OPS, or digests) */
const readBack = (offset: number, blocks: Buffer[], ops = OPS) => encodeReadBack(new CrashConsistencyModel('journal', BS, OLD, ops), [{ offset, bytes: Buffer.concat(blocks) }]);

/** After op 2 was issued (ops 0 and 1 done): blocks 2..3 must be new, block 5 old or new; read blocks 2..5. */
function point(blocks: Buffer[], over: Partial<CrashPointObservation> = {}): CrashPointObservation {
  return {
    where: 'crash point 7 (torn, log entries 0..9, ops done 2/3)', progress: { completed: 2, issued: 3 },
    reads: [report()], readBack: readBack(2 * BS, blocks), ...over,
  };
}
const GOOD = [fill(0x22), fill(0x22), fill(0x11), fill(0x33)];

describe('judgeCrashPoint', () => {
  it('agrees with every block old or new as the mode allows', () => {
    expect(judgeCrashPoint(3, journal(), point(GOOD))).toEqual({ disagreements: [], findings: 0, excusedErrors: 0, blocksRead: 4 });
    expect(judgeCrashPoint(3, journal(), point([fill(0x22), fill(0x22), fill(0x11), fill(0x11)])).findings).toBe(0);
  });

  it('finds a block that holds neither old nor new bytes, a durable write lost, and names where', () => {
    const j = judgeCrashPoint(3, journal(), point([fill(0x22), fill(0x11), fill(0x11), fill(0x7f)]));
    expect(j.disagreements).toEqual([
      { step: 3, kind: 'lost-write', block: 3, sector: 3, expected: 'op 0 at crash point 7 (torn, log entries 0..9, ops done 2/3)', found: 'old (behind durable op 0)' },
      { step: 3, kind: 'foreign-data', block: 5, sector: 5, expected: 'old or op 2 at crash point 7 (torn, log entries 0..9, ops done 2/3)', found: 'bytes of no write to this block' },
    ]);
    expect(j.findings).toBe(2);
  });

  it('finds a write not yet issued', () => {
    const j = judgeCrashPoint(3, journal(), point([fill(0x11), fill(0x11), fill(0x11), fill(0x33)], { progress: { completed: 0, issued: 0 } }));
    expect(j.disagreements.map((d) => [d.kind, d.block, d.found])).toEqual([['future-write', 5, 'op 2, not issued yet']]);
  });

  it('finds an errno where the mode allows none, and excuses it where direct mode does', () => {
    const failed = report({ op: 'read', off: 2 * BS, len: 4 * BS, ok: false, errno: 84, error: 'EILSEQ' }, { op: 'block', off: 5 * BS, len: BS, ok: false, errno: 84, error: 'EILSEQ' });
    const j = judgeCrashPoint(3, journal(), point(GOOD, { reads: [failed] }));
    expect(j.disagreements).toEqual([{ step: 3, kind: 'integrity-error', block: 5, sector: 5, expected: 'reads old or op 2 at crash point 7 (torn, log entries 0..9, ops done 2/3)', found: 'errno 84' }]);
    // direct mode: block 5 has an unflushed write, so its read may fail
    expect(judgeCrashPoint(3, direct(), point(GOOD, { reads: [failed] }))).toMatchObject({ disagreements: [], findings: 0, excusedErrors: 1 });
    // but not on a block with nothing pending
    const floorFailed = report({ op: 'read', off: 2 * BS, len: BS, ok: false, errno: 84, error: 'EILSEQ' });
    expect(judgeCrashPoint(3, direct(), point(GOOD, { reads: [floorFailed] })).disagreements.map((d) => [d.kind, d.block])).toEqual([['integrity-error', 2]]);
  });

  it('reports the first findings of a point and counts them all', () => {
    const model = new CrashConsistencyModel('journal', BS, OLD, []);
    const j = judgeCrashPoint(1, model, point(Array.from({ length: 6 }, () => fill(0x7f)), { readBack: readBack(0, Array.from({ length: 6 }, () => fill(0x7f)), []) }));
    // no write touches these blocks: the model judges them anyway when they are read (gaps between extents)
    expect(j.findings).toBe(6);
    expect(j.disagreements).toHaveLength(FINDINGS_PER_POINT);
    expect(j.disagreements.map((d) => d.block)).toEqual([0, 1, 2, 3]);
  });

  it('makes an open that failed its one finding', () => {
    const j = judgeCrashPoint(3, journal(), point([], { openFailed: 'exit 1: Cannot open device', reads: [], readBack: { runs: [], other: [] } }));
    expect(j).toEqual({
      disagreements: [{ step: 3, kind: 'open-failed', expected: 'the stack opens at crash point 7 (torn, log entries 0..9, ops done 2/3)', found: 'exit 1: Cannot open device' }],
      findings: 1, excusedErrors: 0, blocksRead: 0,
    });
  });

  it('judges nothing at a point with a short read and says where it was cut', () => {
    const short = report({ op: 'read', off: 3 * BS, len: 3 * BS, ok: false, errno: 0 });
    const j = judgeCrashPoint(3, journal(), point([fill(0x7f)], { reads: [short] }));
    expect(j).toEqual({ disagreements: [], findings: 0, excusedErrors: 0, blocksRead: 0, shortRead: 'short read at byte 1536 of the integrity device (EOF)' });
  });
});

describe('judgeCrashRead', () => {
  it('takes a one-block read as its block and re-read blocks as theirs', () => {
    const r = judgeCrashRead(report(
      { op: 'read', off: 0, len: BS, ok: false, errno: 5, error: 'EIO' },
      { op: 'read', off: BS, len: 4 * BS, ok: false, errno: 84, error: 'EILSEQ' },
      { op: 'block', off: 3 * BS, len: BS, ok: false, errno: 84, error: 'EILSEQ' },
      { op: 'block', off: 4 * BS, len: BS, ok: false, errno: 0 },
    ), BS);
    expect(r).toEqual({ failing: new Map([[0, 5], [3, 84], [4, -1]]) });
  });
});

describe('judgeWorkloadResult', () => {
  const ok = { exitCode: 0, stdout: Buffer.from(''), stderr: Buffer.from('') };
  it('agrees with a write and a flush that succeeded', () => {
    expect(judgeWorkloadResult(2, 0, { write: { offset: 0, length: 4096, bs: 4096, jobs: 1, fua: false } }, ok)).toEqual({ disagreements: [] });
    expect(judgeWorkloadResult(2, 1, 'flush', ok)).toEqual({ disagreements: [] });
  });

  it('names each failed write and a failed flush', () => {
    const w = { write: { offset: 0, length: 8192, bs: 4096, jobs: 1, fua: true } } as const;
    const failed = { exitCode: 1, stdout: Buffer.from(JSON.stringify({ op: 'write', off: 4096, len: 4096, ok: false, errno: 5, error: 'EIO', us: 3 })), stderr: Buffer.from('') };
    expect(judgeWorkloadResult(2, 4, w, failed)).toEqual({ disagreements: [{ step: 2, kind: 'write-failed', sector: 8, expected: 'workload[4] write succeeds', found: 'errno 5 (EIO)' }] });
    expect(judgeWorkloadResult(2, 5, 'flush', { exitCode: 1, stdout: Buffer.from('{"op":"flush","ok":false}\n'), stderr: Buffer.from('') })).toEqual({
      disagreements: [{ step: 2, kind: 'flush-failed', expected: 'workload[5] flush succeeds', found: 'exit 1: {"op":"flush","ok":false}' }],
    });
  });

  it('calls a broken helper an error, not a disagreement', () => {
    const w = { write: { offset: 0, length: 4096, bs: 4096, jobs: 1, fua: false } } as const;
    expect(judgeWorkloadResult(2, 0, w, { exitCode: 2, stdout: Buffer.from(''), stderr: Buffer.from('usage: ih-io copy\n') })).toEqual({ disagreements: [], helperFailed: 'ih-io copy exited 2: usage: ih-io copy' });
  });
});
