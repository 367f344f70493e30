import { describe, expect, it } from 'vitest';
import { judgeChurn, judgeChurnedRace, spanSummary, type ChurnPlan } from './race-churn.ts';
import type { RaceDmCommand, RaceInput, RaceIo, SectorVersion } from './race.ts';
import { FIRST, of, pre, PRE, r, SECTORS, SPB, w } from './race-fixture.ts';

const dm = (round: number, cmd: RaceDmCommand['cmd'], t0: number, t1: number, flags = '', exit = 0): RaceDmCommand => ({ round, cmd, flags, t0, t1, exit });

/** Round 0 suspends (reload, resume), round 1 suspends with --noflush and resumes the same instance. */
const PLAN: ChurnPlan = { cycles: [{ reload: true }, { reload: false }] };

/**
 * Writer 1 writes blocks 0-1 (10-20 us) before any suspend. Round 0: suspend 30-35, reload 40-45, resume
 * 50-55; writer 2 writes block 1 at 36 (held: completes at 60) and reader 3 reads it at 37 (held, sees 2.0);
 * reader 3 reads block 0 at 32-40, submitted while the suspend still drained. Round 1: suspend 70-72,
 * resume 80-82; writer 1 writes block 2 at 75 (held: completes at 90). The final read sees every last write.
 */
function churned(): RaceInput {
  return {
    firstSector: FIRST, sectors: SECTORS, sectorsPerBlock: SPB, preHashes: PRE,
    obs: {
      initial: { sector: FIRST, sectors: SECTORS, t0: 1, t1: 2, errno: 0, versions: PRE.map((hash) => ({ kind: 'other', hash })) },
      writes: [w(1, 0, 0, 2, 10, 20), w(2, 0, 1, 1, 36, 60), w(1, 1, 2, 1, 75, 90)],
      reads: [r(3, 0, 1, 37, 62, of(2, 0, SPB)), r(3, 1, 0, 32, 40, of(1, 0, SPB))],
      dm: [
        dm(0, 'suspend', 30, 35), dm(0, 'reload', 40, 45, 'table0'), dm(0, 'resume', 50, 55),
        dm(1, 'suspend', 70, 72, 'noflush'), dm(1, 'resume', 80, 82),
      ],
      final: { sector: FIRST, sectors: SECTORS, t0: 100, t1: 110, errno: 0, versions: [...of(1, 0, SPB), ...of(2, 0, SPB), ...of(1, 1, SPB), ...pre(SPB)] },
    },
  };
}

const kinds = (input: RaceInput, plan = PLAN) => judgeChurnedRace(input, plan).disagreements.map((d) => d.kind);

describe('judgeChurnedRace', () => {
  it('accepts I/Os held across suspends, a reload and a --noflush suspend, and counts what met a suspend', () => {
    const j = judgeChurnedRace(churned(), PLAN);
    expect(j.disagreements).toEqual([]);
    expect(j.final?.map((v) => (v.kind === 'write' ? `${v.writer}.${v.seq}` : v.kind))).toEqual(['1.0', '2.0', '1.1', 'pre']);
    expect(j.churn).toMatchObject({ rounds: 2, readsOverlapping: 2, readsTotal: 2, writesOverlapping: 2, held: 3 });
    expect(j.churn?.suspendUs).toEqual([5, 2]);
    expect(j.churn?.reloadUs).toEqual([5]);
    expect(j.churn?.suspendedUs).toEqual([15, 8]);
  });

  it('fails an acknowledged write the device lost across a suspend (the final read sees what it overwrote)', () => {
    const input = churned();
    input.obs.final!.versions!.splice(16, 8, ...pre(SPB));
    const j = judgeChurnedRace(input, PLAN);
    expect(j.disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-stale', FIRST + 2 * SPB]]);
  });

  it('fails an I/O the suspended device failed instead of queueing it', () => {
    const input = churned();
    input.obs.writes[1] = w(2, 0, 1, 1, 36, 60, 5);
    expect(kinds(input)).toContain('race-write-failed');
    const read = churned();
    read.obs.reads[0] = { ...read.obs.reads[0]!, errno: 11 };
    delete read.obs.reads[0]!.versions;
    expect(kinds(read)).toEqual(['race-read-failed']);
  });

  it('fails an I/O submitted to the suspended device that completed before its resume began', () => {
    const input = churned();
    input.obs.writes[2] = w(1, 1, 2, 1, 75, 78);
    const j = judgeChurnedRace(input, PLAN);
    expect(j.disagreements.map((d) => [d.kind, d.sector])).toEqual([['race-suspend-leak', FIRST + 2 * SPB]]);
  });

  it('fails a dmsetup command that did not exit 0, and a round that is not the planned sequence', () => {
    const failed = churned();
    failed.obs.dm![4] = dm(1, 'resume', 80, 82, '', 1);
    expect(kinds(failed)).toEqual(['race-dm-failed']);
    const noReload = churned();
    noReload.obs.dm!.splice(1, 1);
    expect(kinds(noReload)).toEqual(['race-dm-sequence']);
    const noResume = churned();
    noResume.obs.dm!.splice(4, 1);
    expect(kinds(noResume)).toEqual(['race-dm-sequence']);
  });

  it('fails a churn that never suspended while the racers ran', () => {
    const input = churned();
    input.obs.dm = [dm(0, 'suspend', 200, 201), dm(0, 'reload', 202, 203, 'table0'), dm(0, 'resume', 204, 205)];
    expect(kinds(input, { cycles: [{ reload: true }] })).toEqual(['race-churn-idle']);
  });

  it('fails a churn that stopped before every planned cycle ran', () => {
    const input = churned();
    input.obs.dm = input.obs.dm!.slice(0, 3);
    expect(kinds(input)).toEqual(['race-dm-sequence']);
  });

  it('is the race judgement alone without a plan', () => {
    const j = judgeChurnedRace(churned(), undefined);
    expect(j.churn).toBeUndefined();
    expect(j.disagreements).toEqual([]);
  });
});

describe('judgeChurn', () => {
  it('counts no held I/O behind a suspend that failed (the device never suspended)', () => {
    const input = churned();
    input.obs.dm![3] = dm(1, 'suspend', 70, 72, 'noflush', 1);
    const c = judgeChurn(input.obs, PLAN, FIRST);
    expect(c.stats.held).toBe(2);
    expect(c.disagreements.map((d) => d.kind)).toEqual(['race-dm-failed']);
  });
});

describe('spanSummary', () => {
  it('gives the median and the maximum in ms', () => {
    expect(spanSummary([3000, 1000, 2000])).toBe('median 2.0 ms, max 3.0 ms');
    expect(spanSummary([])).toBe('none');
  });
});
