/** A crash point's read-back as versions: what encodeReadBack records, and a replay of the record judged as the live blocks were. */
import { describe, expect, it } from 'vitest';
import { CrashConsistencyModel, type WorkloadOp } from '../../model/crash/consistency.ts';
import { blockDigest, KEEP_DIFFERING_BLOCKS } from '../../run/session/host-images.ts';
import type { Observation } from '../../run/session/observations.ts';
import { ObservationCursor, ReplayImages } from '../../rejudge/replay.ts';
import { judgeCrashPoint, type CrashPointObservation } from './crash-judge.ts';
import { encodeReadBack, readBackBlocks, versionOf } from './crash-readback.ts';

const BS = 512;
const fill = (byte: number, n = BS) => Buffer.alloc(n, byte);
/**
 * 40 blocks of old content 0x11; op 0 writes blocks 2..5 (0x22, FUA), op 1 flushes, op 2 writes blocks 4..7
 * (block 4 with 0x22 again: the bytes op 0 left there; 5..7 0x33) with FUA, op 3 writes blocks 6..7 (0x44).
 */
const OLD = fill(0x11, 40 * BS);
const OPS: WorkloadOp[] = [
  { kind: 'write', offset: 2 * BS, data: fill(0x22, 4 * BS), fua: true },
  { kind: 'flush' },
  { kind: 'write', offset: 4 * BS, data: Buffer.concat([fill(0x22), fill(0x33, 3 * BS)]), fua: true },
  { kind: 'write', offset: 6 * BS, data: fill(0x44, 2 * BS), fua: false },
];
const model = (mode: 'journal' | 'direct' = 'journal') => new CrashConsistencyModel(mode, BS, OLD, OPS);
/** ops 0 and 1 done, op 2 issued: blocks 2..5 must hold op 0 (4..5 may hold op 2), 6..7 old or op 2 */
const PROGRESS = { completed: 2, issued: 3 };
const WHERE = 'crash point 5 (flush, log entries 0..9, ops done 2/4)';

/** blocks 0..9: old, op 0 x4 (block 4 equal to op 0 and op 2), op 2 at 5..6, old at 7, old at 8..9 */
const GOOD = [fill(0x11), fill(0x11), fill(0x22), fill(0x22), fill(0x22), fill(0x33), fill(0x33), fill(0x11), fill(0x11), fill(0x11)];

describe('encodeReadBack', () => {
  it('records runs of consecutive blocks that equal the same version, the first version a block equals, and reads back every block', () => {
    const rb = encodeReadBack(model(), [{ offset: 0, bytes: Buffer.concat(GOOD) }]);
    // block 4 holds 0x22, which op 0 and op 2 both put there: recorded as op 0, the first
    expect(rb).toEqual({ blockSize: BS, runs: [[0, 2, -1], [2, 3, 0], [5, 2, 2], [7, 3, -1]], other: [] });
    const m = model();
    const back = [...readBackBlocks(rb)];
    expect(back.map((b) => b.block)).toEqual([...GOOD.keys()]);
    for (const b of back) {
      expect('version' in b, `block ${b.block}`).toBe(true);
      if ('version' in b) expect(m.content(b.block, b.version)!.equals(GOOD[b.block]!), `block ${b.block}`).toBe(true);
    }
  });

  it('names versions the model does not allow at the point (a future write), and lists a block equal to none by digest and bytes', () => {
    const seen = [fill(0x22), fill(0x44), fill(0x7f)]; // blocks 5..7: op 0, op 3 (not issued), foreign
    const rb = encodeReadBack(model(), [{ offset: 5 * BS, bytes: Buffer.concat(seen) }]);
    expect(rb.runs).toEqual([[5, 1, 0], [6, 1, 3]]);
    expect(rb.other).toEqual([{ block: 7, sha256: blockDigest(fill(0x7f)), hex: fill(0x7f).toString('hex') }]);
    expect([...readBackBlocks(rb)]).toEqual([{ block: 5, version: 0 }, { block: 6, version: 3 }, { foreign: true, ...rb.other[0]! }]);
    expect(versionOf(model(), 7, fill(0x7f))).toBeUndefined();
  });

  it('keeps the bytes of at most KEEP_DIFFERING_BLOCKS foreign blocks, the digest of every one, across extents, in block order', () => {
    const n = KEEP_DIFFERING_BLOCKS + 4;
    const foreign = Array.from({ length: n }, (_, i) => fill(0x80 + i));
    const rb = encodeReadBack(model(), [
      { offset: 10 * BS, bytes: Buffer.concat(foreign.slice(0, 10)) },
      { offset: 30 * BS, bytes: Buffer.concat([fill(0x11), ...foreign.slice(10)]) },
    ]);
    expect(rb.runs).toEqual([[30, 1, -1]]);
    expect(rb.other).toHaveLength(n);
    expect(rb.other.filter((o) => o.hex !== undefined)).toHaveLength(KEEP_DIFFERING_BLOCKS);
    expect(rb.other.map((o) => o.sha256)).toEqual(foreign.map(blockDigest));
    expect([...readBackBlocks(rb)].map((b) => b.block)).toEqual([...Array.from({ length: 10 }, (_, i) => 10 + i), 30, ...Array.from({ length: 10 }, (_, i) => 31 + i)]);
  });
});

/** What the replay of a stored crash point hands the judge: the run's crash-readback record, through ReplayImages. */
async function replayed(record: Extract<Observation, { t: 'crash-readback' }>, progress = PROGRESS): Promise<CrashPointObservation> {
  const images = new ReplayImages(new ObservationCursor([record]), new Map(), '/nonexistent');
  const rb = await images.hostWork('crash-readback', async () => { throw new Error('the host work ran in a replay'); });
  return { where: WHERE, progress, reads: [], readBack: rb };
}

describe('a replayed crash-point read-back', () => {
  const live = (blocks: Buffer[], mode: 'journal' | 'direct' = 'journal', progress = PROGRESS) =>
    judgeCrashPoint(3, model(mode), { where: WHERE, progress, reads: [], readBack: encodeReadBack(model(mode), [{ offset: 0, bytes: Buffer.concat(blocks) }]) });
  const record = (blocks: Buffer[]) => ({ t: 'crash-readback' as const, step: 3, where: WHERE, ...encodeReadBack(model(), [{ offset: 0, bytes: Buffer.concat(blocks) }]) });

  it('is judged as the live blocks were, a block holding bytes two versions share included', async () => {
    expect(live(GOOD).findings).toBe(0);
    expect(judgeCrashPoint(3, model(), await replayed(record(GOOD)))).toEqual(live(GOOD));
    expect(judgeCrashPoint(3, model('direct'), await replayed(record(GOOD)))).toEqual(live(GOOD, 'direct'));
    // op 2 done (FUA): block 4's floor is op 2, and the block, recorded as op 0 (the first version with its
    // bytes), holds op 2's bytes too; blocks 5..6 hold op 2, 7 old is now behind op 2
    const later = { completed: 3, issued: 3 };
    const j = judgeCrashPoint(3, model(), await replayed(record(GOOD), later));
    expect(j).toEqual(live(GOOD, 'journal', later));
    expect(j.disagreements.map((d) => [d.kind, d.block])).toEqual([['lost-write', 7]]);
  });

  it('finds a lost write where a run\'s version is doctored to one behind the durable floor, in the live judge\'s words', async () => {
    const doctored = record(GOOD);
    const run = doctored.runs.find(([first]) => first === 2)!;
    run[2] = -1; // blocks 2..4 "read old", behind op 0 which was durable (FUA, returned)
    const lost = [...GOOD];
    lost.splice(2, 3, fill(0x11), fill(0x11), fill(0x11));
    const j = judgeCrashPoint(3, model(), await replayed(doctored));
    expect(j).toEqual(live(lost));
    expect(j.disagreements.map((d) => [d.kind, d.block, d.expected, d.found])).toEqual([
      ['lost-write', 2, `op 0 at ${WHERE}`, 'old (behind durable op 0)'],
      ['lost-write', 3, `op 0 at ${WHERE}`, 'old (behind durable op 0)'],
      ['lost-write', 4, `op 0 or op 2 at ${WHERE}`, 'old (behind durable op 0)'],
    ]);
  });

  it('finds a future write and foreign data where the record is doctored to them', async () => {
    const doctored = record(GOOD);
    expect(doctored.runs).toEqual([[0, 2, -1], [2, 3, 0], [5, 2, 2], [7, 3, -1]]);
    // block 6 now op 3 (not issued at the point), block 7 bytes of no version
    doctored.runs = [[0, 2, -1], [2, 3, 0], [5, 1, 2], [6, 1, 3], [8, 2, -1]];
    doctored.other = [{ block: 7, sha256: blockDigest(fill(0x7f)) }];
    const j = judgeCrashPoint(3, model(), await replayed(doctored));
    expect(j.blocksRead).toBe(GOOD.length);
    expect(j.disagreements.map((d) => [d.kind, d.block, d.found])).toEqual([
      ['future-write', 6, 'op 3, not issued yet'],
      ['foreign-data', 7, 'bytes of no write to this block'],
    ]);
    const futureAndForeign = [...GOOD];
    futureAndForeign.splice(6, 2, fill(0x44), fill(0x7f));
    expect(j.disagreements).toEqual(live(futureAndForeign).disagreements);
  });
});
