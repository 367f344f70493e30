/**
 * What a race under a churn may observe (the race step's `churn`): while the racers run, one process
 * suspends the device-mapper device under I/O, holds it suspended, optionally loads a table (the same one, or
 * a changed but compatible one) and resumes it, round after round (ih-io race --churn-*, vm/agent/io-race.c).
 *
 * What device-mapper promises (drivers/md/dm.c, __dm_suspend and dm_submit_bio):
 * - A suspend sets BLOCK_IO_FOR_SUSPEND, so a bio that reaches the device from then on is queued on
 *   md->deferred and submitted at resume; it is not failed. The suspend then waits for every bio already
 *   in flight to complete (dm_wait_for_completion), with or without --noflush.
 * - --noflush changes only what happens to a bio its target pushes back (DM_ENDIO_REQUEUE,
 *   BLK_STS_DM_REQUEUE): it is queued again instead of failed. dm-integrity and dm-crypt push nothing back,
 *   so under either suspend every bio completes, with its data. --nolockfs skips freezing a filesystem on the
 *   device; there is none, and O_DIRECT leaves no page cache to sync.
 * - A reload builds a new target instance while the old one is suspended (dm-integrity's postsuspend has
 *   written its journal out); resume swaps them. Neither changes a byte the device returns.
 *
 * So the race's own rules (race.ts) hold unchanged across suspends and reloads: every I/O succeeds, every
 * read sees a version its times allow, the final read sees one no completed write overwrote. Added here:
 * - every dmsetup command exits 0, each round is suspend, the planned reload if any, resume, in order, and
 *   every planned cycle ran;
 * - an I/O submitted after a suspend returned and before its resume was started was queued, so it completes
 *   only after that resume was started (its completion cannot be seen earlier than the resume's start);
 * - at least one round ran while the racers did, or the race tested nothing of the churn.
 * Racers keep their queues full, so few of their I/Os are submitted after a suspend returned; the churn's own
 * probes (a write and a read each round, submitted once the suspend returned) always are, and are judged as
 * I/Os of the race like any other: the write must land, even across a reload, and the read see a legal version.
 */

import { judgeRace } from './race.ts';
import type { RaceDisagreement, RaceDmCommand, RaceInput, RaceJudgement, RaceObservation } from './race.ts';

export type ChurnDisagreementKind = 'race-dm-failed' | 'race-dm-sequence' | 'race-suspend-leak' | 'race-churn-idle';

export interface ChurnDisagreement {
  kind: ChurnDisagreementKind;
  sector: number;
  expected: string;
  found: string;
}

export type ChurnedRaceDisagreement = RaceDisagreement | ChurnDisagreement;

/** Per planned cycle: whether it loads a table between suspend and resume. */
export interface ChurnPlan {
  cycles: Array<{ reload: boolean }>;
}

/** What the churn did to the race, for the step's note and the report. */
export interface ChurnStats {
  rounds: number;
  /** reads whose submit-to-completion interval met a suspend (from the suspend's start to its resume's end) */
  readsOverlapping: number;
  readsTotal: number;
  writesOverlapping: number;
  /** I/Os submitted while the device was suspended (after a suspend returned, before its resume started) */
  held: number;
  /** microseconds: each suspend's own time (the wait for bios in flight), each reload's, each resume's, each round's suspended span */
  suspendUs: number[];
  reloadUs: number[];
  resumeUs: number[];
  suspendedUs: number[];
}

interface Round {
  round: number;
  suspend?: RaceDmCommand | undefined;
  reload?: RaceDmCommand | undefined;
  resume?: RaceDmCommand | undefined;
}

function rounds(dm: RaceDmCommand[], plan: ChurnPlan, firstSector: number, out: ChurnDisagreement[]): Round[] {
  const by = new Map<number, Round>();
  let last: RaceDmCommand | undefined;
  for (const c of dm) {
    if (c.exit !== 0) {
      out.push({ kind: 'race-dm-failed', sector: firstSector, expected: `dmsetup ${c.cmd} exits 0`,
        found: `round ${c.round}: dmsetup ${c.cmd}${c.flags ? ` (${c.flags})` : ''} ${c.signal !== undefined ? `killed by signal ${c.signal}` : `exited ${c.exit}`} (${c.t0}-${c.t1} us)` });
    }
    if (last !== undefined && c.t0 < last.t1) {
      out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: 'one dmsetup command at a time', found: `round ${c.round} ${c.cmd} began at ${c.t0} us, before ${last.cmd} of round ${last.round} ended at ${last.t1} us` });
    }
    last = c;
    const r = by.get(c.round) ?? { round: c.round };
    if (r[c.cmd] !== undefined) out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: `one ${c.cmd} in round ${c.round}`, found: 'two' });
    r[c.cmd] = c;
    by.set(c.round, r);
  }
  const all = [...by.values()].sort((a, b) => a.round - b.round);
  if (all.length < plan.cycles.length) {
    out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: `every one of the ${plan.cycles.length} cycles at least once`, found: `${all.length} round(s)` });
  }
  all.forEach((r, i) => {
    const want = plan.cycles[r.round % plan.cycles.length]!;
    const missing = [r.suspend === undefined ? 'suspend' : '', want.reload && r.reload === undefined ? 'reload' : '', r.resume === undefined ? 'resume' : ''].filter((x) => x);
    if (r.round !== i) out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: `round ${i}`, found: `round ${r.round}` });
    if (missing.length > 0) out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: `round ${r.round}: suspend${want.reload ? ', reload' : ''}, resume`, found: `no ${missing.join(', no ')}` });
    if (!want.reload && r.reload !== undefined) out.push({ kind: 'race-dm-sequence', sector: firstSector, expected: `round ${r.round}: no reload`, found: 'a reload' });
  });
  return all;
}

/** The churn's disagreements and what it did to the race. */
export function judgeChurn(obs: RaceObservation, plan: ChurnPlan, firstSector: number): { disagreements: ChurnDisagreement[]; stats: ChurnStats } {
  const out: ChurnDisagreement[] = [];
  const all = rounds(obs.dm ?? [], plan, firstSector, out);
  const ios = [...obs.writes, ...obs.reads];
  if (ios.length > 0) {
    const start = Math.min(...ios.map((x) => x.t0));
    const end = Math.max(...ios.map((x) => x.t1));
    const during = all.filter((r) => r.suspend !== undefined && r.resume !== undefined && r.suspend.t0 < end && r.resume.t1 > start);
    if (during.length === 0) {
      out.push({ kind: 'race-churn-idle', sector: firstSector, expected: `a suspend while the racers ran (${start}-${end} us)`, found: `${all.length} round(s), none then` });
    }
  }
  const windows = all.flatMap((r) => (r.suspend !== undefined && r.resume !== undefined ? [{ r, s: r.suspend, q: r.resume }] : []));
  const overlaps = (x: { t0: number; t1: number }) => windows.some((w) => x.t0 < w.q.t1 && x.t1 > w.s.t0);
  let held = 0;
  for (const w of windows) {
    if (w.s.exit !== 0) continue;
    for (const x of ios) {
      // an I/O whose submit time is the suspend's return or later was submitted after the device was suspended
      if (x.t0 < w.s.t1 || x.t0 >= w.q.t0) continue;
      held++;
      if (x.t1 <= w.q.t0) {
        out.push({ kind: 'race-suspend-leak', sector: x.sector,
          expected: `an I/O submitted while the device was suspended (round ${w.r.round}: suspend returned at ${w.s.t1} us, resume began at ${w.q.t0} us) completes after the resume began`,
          found: `${obs.writes.includes(x) ? 'write' : 'read'} ${x.writer}.${x.seq} (sectors ${x.sector}+${x.sectors}) submitted at ${x.t0} us, seen complete at ${x.t1} us` });
      }
    }
  }
  const span = (c: RaceDmCommand | undefined) => (c === undefined ? [] : [c.t1 - c.t0]);
  return {
    disagreements: out,
    stats: {
      rounds: all.length,
      readsOverlapping: obs.reads.filter(overlaps).length,
      readsTotal: obs.reads.length,
      writesOverlapping: obs.writes.filter(overlaps).length,
      held,
      suspendUs: all.flatMap((r) => span(r.suspend)),
      reloadUs: all.flatMap((r) => span(r.reload)),
      resumeUs: all.flatMap((r) => span(r.resume)),
      suspendedUs: windows.map((w) => w.q.t0 - w.s.t1),
    },
  };
}

/** "median 12 ms, max 40 ms" of microsecond spans, for a note. */
export function spanSummary(us: number[]): string {
  if (us.length === 0) return 'none';
  const s = [...us].sort((a, b) => a - b);
  const ms = (x: number) => `${(x / 1000).toFixed(1)} ms`;
  return `median ${ms(s[Math.floor(s.length / 2)]!)}, max ${ms(s[s.length - 1]!)}`;
}

/** The race judged by its own rules and, when it ran under a churn, by the churn's: one list of disagreements. */
export function judgeChurnedRace(input: RaceInput, plan: ChurnPlan | undefined): Omit<RaceJudgement, 'disagreements'> & { disagreements: ChurnedRaceDisagreement[]; churn?: ChurnStats } {
  const j = judgeRace(input);
  if (plan === undefined) return j;
  const c = judgeChurn(input.obs, plan, input.firstSector);
  return { ...j, disagreements: [...j.disagreements, ...c.disagreements], churn: c.stats };
}
