/**
 * The `unstable` step on an integrity or dm-crypt AEAD stack: ih-io unstable writes buffers another thread
 * rewrites while each write is in flight and reads every block back alone after its write; the model
 * (harness/model/integrity/unstable.ts) judges each read back for the stack, and the device model adopts what
 * the range holds (bytes read back, or a block whose data its tag does not verify), so every later step and
 * the raw-disk audit are judged against it. A step in which no write's buffer changed in flight proved
 * nothing and is an error, not a pass.
 */
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { parseUnstableReport } from '../../../vm/agent/unstable-report.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { checksumLineSector } from '../../model/integrity/log.ts';
import { judgeUnstable, unstableMayFail, type UnstableStack } from '../../model/integrity/unstable.ts';
import type { UnstableStep } from '../../scenario/schema.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { ioToolFailure } from '../../run/session/io-refusal.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import type { ChecksumTally } from './integrity-io.ts';

/** What the step needs of a cell: the session, the model of the top device's plaintext, the top device, the stack. */
export interface UnstableContext {
  s: GuestSession;
  model: IntegrityDeviceModel;
  top: string;
  stack: UnstableStack;
  /** integrity stacks: the mismatch counter's books (a failing read counts one); absent under dm-crypt */
  tally?: ChecksumTally;
}

export async function unstableStep(ctx: UnstableContext, i: number, u: UnstableStep): Promise<void> {
  const { s, model } = ctx;
  const spb = model.sectorsPerBlock;
  const blocks = u.length / model.blockSize;
  for (let b = u.offset / model.blockSize; b < u.offset / model.blockSize + blocks; b++) {
    const e = model.blockExpectation(b);
    if (e.mustFail && e.errno !== 84) throw new UsageError(`steps[${i}].unstable: block ${b} fails with errno ${e.errno} before the step; writes over it are not modelled`);
  }
  // a block read back EILSEQ is a counted kernel line: it must not start inside an earlier scenario's ratelimit window
  if (unstableMayFail(ctx.stack)) await s.readsMayFail();
  // the step's index marks its payload, as the race step's does
  const tag = i + 1;
  const res = await s.run(ioArgv({ cmd: 'unstable', dev: ctx.top, offset: u.offset, length: u.length, block: model.blockSize, writes: u.writes, writeBlocks: u.writeBlocks, tag }));
  if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(s, i, res, 'unstable', { dev: ctx.top, bytes: model.providedDataSectors * 512, blockSize: model.blockSize });
  const report = parseUnstableReport(res.stdout);
  const sum = report.summary;
  if (sum === undefined) throw new InfraError(`ih-io unstable exited ${res.exitCode} without a summary: ${res.stderr.toString().trim().slice(-300)}`);
  const j = judgeUnstable({ stack: ctx.stack, tag, sectorsPerBlock: spb, writes: report.writes, reads: report.reads });
  j.disagreements.forEach((d) => s.disagree({ step: i, ...d, block: Math.floor(d.sector / spb) }));
  const failing = report.reads.filter((r) => r.errno === 84);
  failing.forEach((r) => s.observeFailed(r.sector / spb, r.errno));
  if (ctx.tally !== undefined && failing.length > 0) {
    ctx.tally.add(i, failing.length, failing.length, failing.map((r) => checksumLineSector(r.sector / spb, spb)));
    ctx.tally.addModel(failing.length, failing.length);
  }
  const flight = report.writes.map((w) => w.t1 - w.t0).sort((a, b) => a - b);
  s.note(`unstable: ${sum.engine} engine, ${sum.writes} writes of ${u.writeBlocks} block(s) in ${Math.round(sum.elapsedUs / 1000)} ms ` +
    `(median flight ${flight[Math.floor(flight.length / 2)] ?? 0} us); ${j.mutatedWrites} saw their buffer change in flight; blocks read back: ` +
    `${j.exactFirst} the first version whole, ${j.exactLater} a later version whole, ${j.mixed} a mix (${j.tornSectors} sector(s) torn within), ${j.eilseq} EILSEQ; ${j.disagreements.length} disagreement(s)`);
  if (j.mutatedWrites === 0) {
    throw new InfraError(`steps[${i}].unstable: no write's buffer changed while it was in flight (${sum.writes} writes), so the step tested nothing; ` +
      'give the guest more vCPUs (scenario cpus:) or more writes');
  }
  for (const [block, o] of j.blocks) {
    if (o.kind === 'data') model.write(block * spb, o.data);
    else model.mismatch(block);
  }
  if (j.unknown.size > 0) {
    throw new KernelFailure(`after the unstable writes of step ${i} the range holds blocks the model cannot name (see the disagreements)`);
  }
}
