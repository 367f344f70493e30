/**
 * The `race` step on an integrity or dm-crypt AEAD stack (both keep the plaintext in an IntegrityDeviceModel): ih-io race hammers a hot range with overlapping reads and writes from
 * several processes, the race model (harness/model/integrity/race.ts) judges every version each read saw and
 * the range's state after the race, and the device model adopts that state, so every later step (a reopen,
 * plain reads, the raw-disk audit at the end) is judged against what the race left.
 */
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { parseRaceReport } from '../../../vm/agent/race-report.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { adoptRaceFinal, judgeRace } from '../../model/integrity/race.ts';
import { sectorHash } from '../../model/integrity/race-payload.ts';
import type { RaceStep } from '../../scenario/schema.ts';
import { KernelFailure } from '../../run/session/cell.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { ioToolFailure } from '../../run/session/io-refusal.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';

/** What a race needs of a cell: the session, the model of the top device's plaintext, the top device. */
export interface RaceContext {
  s: GuestSession;
  model: IntegrityDeviceModel;
  top: string;
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
  const res = await s.run(ioArgv({
    cmd: 'race', dev: ctx.top, offset: r.offset, length: r.length, block: model.blockSize, procs: r.procs, ops: r.ops, qd: r.qd,
    maxBlocks: r.maxBlocks, writePercent: r.writePercent, seed: r.seed, tag,
  }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'race', { dev: ctx.top, bytes: model.providedDataSectors * 512, blockSize: model.blockSize });
  const report = parseRaceReport(res.stdout);
  const sum = report.summary;
  if (sum === undefined) throw new InfraError(`ih-io race exited ${res.exitCode} without a summary: ${res.stderr.toString().trim().slice(-300)}`);
  if (sum.died > 0) s.disagree({ step: i, kind: 'race-process', expected: 'every racing process exits 0', found: `${sum.died} did not (see the console for a fault)` });
  const j = judgeRace({ firstSector: first, sectors, sectorsPerBlock: spb, preHashes, obs: report });
  j.disagreements.forEach((d) => s.disagree({ step: i, ...d, block: Math.floor(d.sector / spb) }));
  s.note(`race: ${sum.engine} engine, ${sum.procs} processes x ${sum.ops} I/Os (qd ${sum.qd}) in ${Math.round(sum.elapsedUs / 1000)} ms: ` +
    `${report.writes.length} writes, ${report.reads.length} reads, ${j.blocksRead} blocks read of which ${j.blocksFromWrites} held a write of the race; ` +
    `${j.disagreements.length} disagreement(s)`);
  if (j.final === undefined) throw new KernelFailure(`after the race of step ${i} the hot range holds bytes the model cannot name (see the disagreements)`);
  adoptRaceFinal(model, tag, first, j.final);
}
