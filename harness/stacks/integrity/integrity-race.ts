/**
 * The `race` step on an integrity or dm-crypt AEAD stack (both keep the plaintext in an IntegrityDeviceModel): ih-io race hammers a hot range with overlapping reads and writes from
 * several processes, the race model (harness/model/integrity/race.ts) judges every version each read saw and
 * the range's state after the race, and the device model adopts that state, so every later step (a reopen,
 * plain reads, the raw-disk audit at the end) is judged against what the race left. Under a `churn` the same
 * ih-io race suspends, reloads and resumes a device of the stack while its racers run, and the churn model
 * (harness/model/integrity/race-churn.ts) judges the dmsetup commands and the I/Os they held as well.
 */
import { ioArgv, type RaceChurn } from '../../../vm/agent/io-argv.ts';
import { parseRaceReport } from '../../../vm/agent/race-report.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { adoptRaceFinal } from '../../model/integrity/race.ts';
import { judgeChurnedRace, spanSummary, type ChurnPlan, type ChurnStats } from '../../model/integrity/race-churn.ts';
import type { RaceDmCommand, RaceIo } from '../../model/integrity/race.ts';
import { tunedTable } from '../../run/session/tuned-table.ts';
import { sectorHash } from '../../model/integrity/race-payload.ts';
import type { RaceChurnSpec, RaceStep } from '../../scenario/schema.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { ioToolFailure } from '../../run/session/io-refusal.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';

/** What a race needs of a cell: the session, the model of the top device's plaintext, the top device. */
export interface RaceContext {
  s: GuestSession;
  model: IntegrityDeviceModel;
  top: string;
  /** the device-mapper names a churn may suspend: the top device's and the dm-integrity device's */
  dm?: { top: string; integrity: string } | undefined;
  /**
   * After a churn that suspended the dm-integrity device: each round was a deactivation and an activation
   * (postsuspend wrote the journal out). `wroteAfter`: a write of the race surely reached the last activation.
   */
  reactivated?: ((wroteAfter: boolean) => Promise<void>) | undefined;
}

/** The churn's dmsetup arguments: the device's own table read back, and a tuned one where a cycle asks. */
async function churnCommand(ctx: RaceContext, i: number, c: RaceChurnSpec): Promise<{ cmd: RaceChurn; plan: ChurnPlan }> {
  if (ctx.dm === undefined) throw new UsageError(`steps[${i}].race.churn: this stack has no device-mapper device to suspend`);
  const dm = c.device === 'top' ? ctx.dm.top : ctx.dm.integrity;
  const own = (await ctx.s.must(['dmsetup', 'table', '--showkeys', dm])).stdout.toString().trim();
  const tables: string[] = [];
  const index = (t: string): number => (tables.includes(t) ? tables.indexOf(t) : tables.push(t) - 1);
  const cycles = c.cycles.map((y) => ({
    flags: y.suspend,
    table: y.reload === 'none' ? undefined : index(y.reload === 'same' ? own : tunedTable(own)),
  }));
  return {
    cmd: { dm, tables, cycles, holdUs: c.holdMs * 1000, gapUs: c.gapMs * 1000 },
    plan: { cycles: c.cycles.map((y) => ({ reload: y.reload !== 'none' })) },
  };
}

function churnNote(c: ChurnStats, dm: string): string {
  return `churn of ${dm}: ${c.rounds} rounds (suspend ${spanSummary(c.suspendUs)}, reload ${spanSummary(c.reloadUs)}, resume ${spanSummary(c.resumeUs)}, ` +
    `suspended ${spanSummary(c.suspendedUs)}); ${c.readsOverlapping} of ${c.readsTotal} reads and ${c.writesOverlapping} writes overlapped a suspend, ` +
    `${c.held} I/Os were submitted to the suspended device`;
}

/** Whether a write of the race was submitted after the last resume returned: the last activation surely took it. */
function wroteAfterLastResume(writes: RaceIo[], dm: RaceDmCommand[]): boolean {
  const resumes = dm.filter((c) => c.cmd === 'resume');
  if (resumes.length === 0) return true;
  const last = resumes[resumes.length - 1]!.t1;
  return writes.some((w) => w.t0 > last);
}

export async function raceStep(ctx: RaceContext, i: number, r: RaceStep): Promise<void> {
  const { s, model } = ctx;
  const spb = model.sectorsPerBlock;
  const first = r.offset / 512;
  const sectors = r.length / 512;
  const before = model.expectRead(first, r.length);
  if (!before.ok || before.data === undefined || before.indeterminateBlocks.length > 0) {
    // a version the race may keep must be nameable: failing or discarded blocks have no bytes the model knows
    throw new UsageError(`steps[${i}].race: the hot range holds blocks the model expects to fail (${before.failingBlocks.join(', ')}) or discarded ones (${before.indeterminateBlocks.join(', ')}); a race over them is not modelled`);
  }
  const preHashes = Array.from({ length: sectors }, (_, x) => sectorHash(before.data!.subarray(x * 512, (x + 1) * 512)));
  // the step's index marks its payload, so a sector an earlier race left is "before the race" here, not a write of it
  const tag = i + 1;
  const churn = r.churn === undefined ? undefined : await churnCommand(ctx, i, r.churn);
  const res = await s.run(ioArgv({
    cmd: 'race', dev: ctx.top, offset: r.offset, length: r.length, block: model.blockSize, procs: r.procs, ops: r.ops, qd: r.qd,
    maxBlocks: r.maxBlocks, writePercent: r.writePercent, seed: r.seed, tag, churn: churn?.cmd,
  }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'race', { dev: ctx.top, bytes: model.providedDataSectors * 512, blockSize: model.blockSize });
  const report = parseRaceReport(res.stdout);
  const sum = report.summary;
  if (sum === undefined) throw new InfraError(`ih-io race exited ${res.exitCode} without a summary: ${res.stderr.toString().trim().slice(-300)}`);
  if (sum.died > 0) s.disagree({ step: i, kind: 'race-process', expected: 'every racing process exits 0', found: `${sum.died} did not (see the console for a fault)` });
  const j = judgeChurnedRace({ firstSector: first, sectors, sectorsPerBlock: spb, preHashes, obs: report }, churn?.plan);
  j.disagreements.forEach((d) => s.disagree({ step: i, ...d, block: Math.floor(d.sector / spb) }));
  s.note(`race: ${sum.engine} engine, ${sum.procs} processes x ${sum.ops} I/Os (qd ${sum.qd}) in ${Math.round(sum.elapsedUs / 1000)} ms: ` +
    `${report.writes.length} writes, ${report.reads.length} reads, ${j.blocksRead} blocks read of which ${j.blocksFromWrites} held a write of the race; ` +
    `${j.disagreements.length} disagreement(s)`);
  if (j.churn !== undefined && churn !== undefined) s.note(churnNote(j.churn, churn.cmd.dm));
  if (churn !== undefined && report.dm.some((c) => c.cmd === 'resume') && churn.cmd.dm === ctx.dm?.integrity) {
    await ctx.reactivated?.(wroteAfterLastResume(report.writes, report.dm));
  }
  if (j.final === undefined) throw new KernelFailure(`after the race of step ${i} the hot range holds bytes the model cannot name (see the disagreements)`);
  adoptRaceFinal(model, tag, first, j.final);
}
