/**
 * What every dm-crypt-AEAD-over-dm-integrity cell does once the stack exists, whoever builds it (dmsetup
 * tables: crypt-cell.ts; cryptsetup LUKS2: luks-cell.ts): O_DIRECT I/O and discards through the crypt
 * device, host-side corruptions of ciphertext, auth tag or IV, status and kernel-log checks, and at the
 * end an audit of the raw disk that decrypts every sector with the model. Subclasses format, open and
 * close the stack and set the model's state in format().
 */
import { parseIoReport } from '../../../vm/agent/client.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { reloadTable, suspendResume } from '../../run/session/dm-reload.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { raceStep } from '../integrity/integrity-race.ts';
import { cryptCorruptionOffset, type CryptCorruption } from '../../model/crypt/corrupt.ts';
import type { CryptAeadCipher } from '../../model/crypt/cipher.ts';
import { expectCryptDiscard } from '../../model/crypt/discard.ts';
import { cryptAeadVerifier } from '../../model/crypt/verifier.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import type { IntegritySuperblock } from '../../model/integrity/superblock.ts';
import type { IoRange, RaceStep, TableTry } from '../../scenario/schema.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { CellSpec, GuestSession } from '../../run/session/cell.ts';
import { CellCrashSteps } from '../../crash/steps/cell-crash.ts';
import type { CrashStack } from '../../crash/steps/crash-stack.ts';
import { unstableStep } from '../integrity/integrity-unstable.ts';
import { dmRemoveArgv } from './crypt-stack.ts';
import { ioSize, type TransferPlan } from '../../run/session/disks.ts';
import { checkTopDevice, ioToolFailure, type TopDevice } from '../../run/session/io-refusal.ts';
import { beginSetup, CellDisks } from '../../run/session/guest-disks.ts';
import { judgeCryptStatus, judgeIntegrityStatus } from '../../run/session/status-judge.ts';
import { FORMAT_FIELDS, judgeSuperblockFormat, planned } from '../../run/session/superblock-judge.ts';
import { judgeAeadLog } from '../../run/session/log-judge.ts';
import { judgeImageAudit } from '../../run/session/audit-judge.ts';
import { judgeDiscard } from '../../run/session/result-judge.ts';
import { judgeWrite } from '../../run/session/write-judge.ts';
import { closedJournalBlocks } from '../integrity/closed-journal.ts';
import { integrityStatusFields } from '../integrity/integrity-requirements.ts';
import { blockList, expectedBlockData, judgeRead } from '../../run/session/read-judge.ts';
import type { GuestFacts } from '../../scenario/requirements.ts';
import { readExpectation, type PayloadIndex } from '../../repro/expect.ts';
import { writePattern } from '../../scenario/payload.ts';

export interface AeadState {
  model: IntegrityDeviceModel;
  geom: IntegrityGeometry;
  sb: IntegritySuperblock;
}

export abstract class AeadCell {
  protected state: AeadState | undefined;
  protected isOpen = false;
  /** every block some read was expected to fail on: the only blocks dm-crypt may log AEAD errors for */
  private readonly mayFail = new Set<number>();
  /** dm-integrity's offset on the disk in 512-byte sectors (the LUKS2 data offset; 0 for dmsetup stacks) */
  protected startSector = 0;
  /** dm-crypt's iv_offset */
  protected ivOffset = 0;
  /** dm-crypt's table has allow_discards */
  protected cryptDiscards = false;
  /** open() builds the stack on this device instead of the data disk (a crash step's dm-log-writes) */
  protected lowerDevice: string | undefined;
  private payload: PayloadIndex | undefined;

  protected abstract readonly cipher: CryptAeadCipher;
  protected abstract readonly key: Buffer;
  /** what the guest's kernel and tools are, once the requirements are checked */
  protected facts: GuestFacts | undefined;
  /** the scenario's data disk and crypt sector size */
  protected readonly layout: { disk: string; sectorSize: number };

  constructor(
    protected readonly spec: CellSpec,
    protected readonly s: GuestSession,
    hostDisk: Map<string, string>,
    protected readonly plan: TransferPlan,
    /** device-mapper names of the two layers */
    protected readonly names: { crypt: string; integrity: string },
  ) {
    const st = spec.scenario.stack;
    if (st.type === 'integrity') throw new InfraError(`${new.target.name} given a ${st.type} stack`);
    this.layout = { disk: st.disk, sectorSize: st.sectorSize };
    this.disks = new CellDisks(hostDisk);
    // a fresh guest after a kill step has lost the key files; AEAD sectors never written fail their tag
    this.crashSteps = new CellCrashSteps({
      spec, session: s, plan, disks: this.disks, dataDisk: this.layout.disk,
      model: () => this.must().model, geom: () => this.must().geom,
      stack: () => this.crashStack(), afterReboot: () => this.prepare(), unreadableBefore: true,
    });
  }

  protected readonly disks: CellDisks;
  private readonly crashSteps: CellCrashSteps;

  /** Raw dm-crypt tables beside the stack (crypt-aead only: the loader refuses them elsewhere). */
  protected async tables(i: number, _tables: TableTry[]): Promise<void> {
    throw new InfraError(`steps[${i}]: tables reached a ${this.spec.scenario.stack.type} cell (the loader refuses them)`);
  }

  /** Called once the guest's disks are known, before format(): key files and the like. */
  protected async prepare(): Promise<void> {}
  /** Creates the stack's on-disk format and sets `state`. */
  protected abstract format(): Promise<void>;
  protected abstract open(first: boolean): Promise<void>;
  protected abstract close(): Promise<void>;

  protected get top(): string {
    return `/dev/mapper/${this.names.crypt}`;
  }

  /** The crypt device as the model has it: as big as dm-integrity's provided data, in the stack's sectors. */
  private topDevice(): TopDevice {
    const { model } = this.must();
    return { dev: this.top, bytes: model.providedDataSectors * 512, blockSize: model.blockSize };
  }

  async run(): Promise<void> {
    ({ facts: this.facts, payload: this.payload } = await beginSetup(this.s, this.disks, this.spec.scenario, this.plan));
    await this.prepare();
    await this.format();
    await this.open(true);
    await checkTopDevice(this.s, -1, this.topDevice());
    await this.checkDiscardLimit();
    const steps = this.spec.scenario.steps;
    for (const [i, step] of steps.entries()) {
      if (step === 'open') { await this.s.begin(i, 'open'); await this.open(false); this.wrote = false; this.replayClosedJournal(); await checkTopDevice(this.s, i, this.topDevice()); }
      else if (step === 'close') { await this.s.begin(i, 'close'); await this.close(); await this.readClosedJournal(i); }
      else if (step === 'status') { await this.s.begin(i, 'status'); await this.status(i); }
      else if (step === 'reload' || step === 'suspend') { await this.s.begin(i, step); await this.reload(i, step); }
      else if (typeof step !== 'string' && 'crash' in step) { await this.s.begin(i, 'crash'); await this.crashSteps.crash(i, step.crash); this.wrote = false; }
      else if (typeof step !== 'string' && 'kill' in step) { await this.s.begin(i, 'kill'); await this.crashSteps.kill(i, step.kill); this.wrote = false; }
      else if (typeof step !== 'string' && 'race' in step && this.spec.phase !== undefined) throw new UsageError(`steps[${i}].race: a race's outcome is the kernel's timing, which a compatibility pass cannot carry to the other kernel`);
      else if (typeof step !== 'string' && 'race' in step) { await this.s.begin(i, 'race'); this.wrote = true; await this.race(i, step.race); }
      else if (typeof step !== 'string' && 'unstable' in step && this.spec.phase !== undefined) throw new UsageError(`steps[${i}].unstable: what a changing buffer leaves is the kernel's timing, which a compatibility pass cannot carry to the other kernel`);
      else if (typeof step !== 'string' && 'unstable' in step) {
        await this.s.begin(i, 'unstable');
        this.wrote = true;
        await unstableStep({ s: this.s, model: this.must().model, top: this.top, stack: 'crypt-aead' }, i, step.unstable);
      }
      else if (typeof step !== 'string' && 'tables' in step) { await this.s.begin(i, 'tables'); await this.tables(i, step.tables); }
      else if (typeof step === 'string' || !('write' in step || 'read' in step || 'discard' in step || 'corrupt' in step)) {
        throw new InfraError(`steps[${i}]: ${JSON.stringify(step)} reached a ${this.spec.scenario.stack.type} cell (the loader refuses it)`);
      }
      else if ('write' in step && this.spec.phase === 'read') { await this.s.begin(i, 'write'); this.writtenElsewhere(i, step.write); }
      else if ('write' in step) { await this.s.begin(i, 'write'); await this.write(i, step.write); }
      else if ('read' in step && this.spec.phase === 'write') { await this.s.begin(i, 'read'); this.s.note('left to the reading kernel'); }
      else if ('read' in step) { await this.s.begin(i, 'read'); await this.read(i, step.read); }
      else if ('discard' in step) { await this.s.begin(i, 'discard'); await this.discard(i, step.discard); }
      else if ('corrupt' in step) { await this.s.begin(i, 'corrupt'); await this.corrupt(step.corrupt.blocks, step.corrupt.where); }
    }
    await this.s.begin(steps.length, 'teardown');
    if (this.isOpen) {
      await this.close();
      await this.readClosedJournal(steps.length);
    }
    // the crash steps judged every read and audited the disk themselves; the device model is behind them
    if (this.crashSteps.crashed) return;
    await this.checkAeadLog(steps.length);
    await this.audit(steps.length);
  }

  /**
   * dm-crypt's table loaded again under the open device (a new crypt instance over the same dm-integrity,
   * its integrity profile checked again by crypt_integrity_ctr), or the crypt device suspended and resumed.
   */
  private async reload(i: number, how: 'reload' | 'suspend'): Promise<void> {
    if (how === 'reload') await reloadTable(this.s, this.names.crypt);
    else await suspendResume(this.s, this.names.crypt);
    await checkTopDevice(this.s, i, this.topDevice());
  }

  /**
   * The race, under a churn of the crypt device or of dm-integrity beneath it. A churn of dm-integrity
   * deactivates and activates it each round, as a reload does: wrote_to_journal starts again.
   */
  private async race(i: number, r: RaceStep): Promise<void> {
    await raceStep({
      s: this.s, model: this.must().model, top: this.top, dm: { top: this.names.crypt, integrity: this.names.integrity },
      reactivated: async (wroteAfter) => { this.wrote = wroteAfter; },
    }, i, r);
    if (r.churn !== undefined) await checkTopDevice(this.s, i, this.topDevice());
  }

  /** blocks whose entries the last close left in dm-integrity's journal: the next open writes them again */
  private pendingReplay: Set<number> | undefined;
  /** a write step ran since dm-integrity's last activation (its resume resets wrote_to_journal) */
  private wrote = false;

  /** The stack as the crash steps drive it: open on any lower device, close, audit every tuple on the raw disk. */
  private crashStack(): CrashStack {
    const st = this.spec.scenario.stack;
    const { model } = this.must();
    return {
      kind: st.type === 'luks2' ? 'luks2' : 'crypt-aead',
      // LUKS2 --integrity opens dm-integrity in journal mode unless --integrity-no-journal
      mode: st.type === 'crypt-aead' ? st.mode : 'journal',
      top: this.top,
      open: async (lower) => {
        this.lowerDevice = lower;
        try {
          await this.open(false);
          return { ok: true };
        } catch (e) {
          if (!(e instanceof KernelFailure)) throw e;
          // a half-built stack: dm-integrity without dm-crypt on it
          await this.s.run(dmRemoveArgv(this.names.crypt));
          await this.s.run(dmRemoveArgv(this.names.integrity));
          this.isOpen = false;
          return { ok: false, why: e.message };
        } finally {
          this.lowerDevice = undefined;
        }
      },
      close: () => this.close(),
      rawAudit: () => ({
        image: this.disks.host(this.layout.disk),
        params: {
          verifier: cryptAeadVerifier({ cipher: this.cipher, key: this.key, sectorSize: this.layout.sectorSize, ivOffsetSectors: this.ivOffset }),
          startSector: this.startSector, wiped: model.wiped,
        },
      }),
    };
  }

  /** Format drift: the superblock dm-integrity wrote against the model's format plan, field by field. */
  protected checkSuperblock(sb: IntegritySuperblock, want: Pick<IntegritySuperblock, (typeof FORMAT_FIELDS)[number]>, whyFixedPadding: string, padded = true): void {
    judgeSuperblockFormat(sb, { fields: planned(want), fixedPadding: { set: padded, why: whyFixedPadding } }).forEach((d) => this.s.disagree(d));
  }

  protected must(): AeadState {
    if (this.state === undefined) throw new InfraError('crypt model used before dm-integrity was formatted');
    return this.state;
  }

  private async write(i: number, r: IoRange): Promise<void> {
    const { model } = this.must();
    this.wrote = true;
    this.s.expect({ op: 'write', offset: r.offset, length: r.length, bs: ioSize(r, model.blockSize), errno: 0 });
    // --procs: the range's chunks issued by that many processes at once (the same bytes end up on disk)
    const res = await this.s.run(ioArgv({ cmd: 'copy', src: this.disks.dev('payload'), srcOffset: this.plan.offsets.get(i)!,
      dst: this.top, dstOffset: r.offset, length: r.length, bs: ioSize(r, model.blockSize), block: model.blockSize, procs: r.procs, fua: r.fua,
      iov: r.iovecs, ...(r.buffered ? { dstBuffered: true, fsync: true } : {}) }));
    if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(this.s, i, res, 'copy', this.topDevice());
    const j = judgeWrite({ ok: true }, { step: i, offset: r.offset, length: r.length, bs: ioSize(r, model.blockSize) }, parseIoReport(res.stdout), res.exitCode);
    if (j.sourceFailed) throw new InfraError(`ih-io copy could not read the payload disk at ${j.sourceFailed.off}: errno ${j.sourceFailed.errno}`);
    j.disagreements.forEach((d) => this.s.disagree(d));
    if (j.unexplainedExit) throw new KernelFailure(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    model.write(r.offset / 512, writePattern(this.spec.scenario, i, r));
  }

  /** The compatibility pass's reader: another kernel made this write on the disk it was given. */
  private writtenElsewhere(i: number, r: IoRange): void {
    this.must().model.write(r.offset / 512, writePattern(this.spec.scenario, i, r));
    this.s.note('written by the other kernel');
  }

  private async read(i: number, r: IoRange): Promise<void> {
    const { model } = this.must();
    const bs = ioSize(r, model.blockSize);
    const outOff = this.plan.offsets.get(i)!;
    this.s.expect(readExpectation(model, { offset: r.offset, length: r.length, bs }, this.payload!));
    const res = await this.s.run(ioArgv({ cmd: 'read', dev: this.top, offset: r.offset, length: r.length,
      bs, block: model.blockSize, procs: r.procs, iov: r.iovecs, out: this.disks.dev('out'), outOffset: outOff, logOk: true }));
    if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(this.s, i, res, 'read', this.topDevice());
    const req = { step: i, offset: r.offset, length: r.length, bs };
    const got = await this.s.images.readBlocks(this.disks.host('out'), outOff, r.length, model.blockSize, expectedBlockData(model, req));
    const j = judgeRead(model, req, parseIoReport(res.stdout), got);
    if (j.missing.length > 0) throw new InfraError(`ih-io read reported nothing for offset(s) ${j.missing.slice(0, 5).join(', ')}`);
    if (j.shortReads.length > 0) throw new KernelFailure(`short read at offset ${j.shortReads[0]} of ${this.top}`);
    j.expectedFailing.forEach((b) => this.mayFail.add(b));
    j.disagreements.forEach((d) => this.s.disagree(d));
    const errnos = [...new Set(j.failed.map((f) => f.errno))].join('/');
    this.s.note(j.failed.length === 0
      ? `all ${r.length / model.blockSize} blocks read`
      : `failed blocks: ${blockList(j.failed.map((f) => f.block))} (errno ${errnos}); model: ${j.expectedFailing.length ? blockList(j.expectedFailing) : 'none'}`);
  }

  /** BLKDISCARD on the crypt device: the model says it fails (model/crypt/discard.ts), so nothing changes. */
  private async discard(i: number, d: { offset: number; length: number }): Promise<void> {
    const exp = expectCryptDiscard({ cryptAllowDiscards: this.cryptDiscards });
    this.s.expect({ op: 'discard', errno: exp.errno });
    const res = await this.s.run(ioArgv({ cmd: 'discard', dev: this.top, offset: d.offset, length: d.length }));
    if (res.exitCode === 2 || res.exitCode === 3) throw await ioToolFailure(this.s, i, res, 'discard', this.topDevice());
    const j = judgeDiscard(i, { errno: exp.errno, why: exp.why }, d.offset, parseIoReport(res.stdout));
    if (j.result === undefined) throw new InfraError('ih-io discard reported nothing');
    j.disagreements.forEach((x) => this.s.disagree(x));
    const line = j.result;
    this.s.note(`discard: errno ${line.errno}${line.error ? ` (${line.error})` : ''}; model: errno ${exp.errno}, ${exp.why}`);
  }

  /** The crypt device's queue must say what the model says about discards before any is issued. */
  private async checkDiscardLimit(): Promise<void> {
    const exp = expectCryptDiscard({ cryptAllowDiscards: this.cryptDiscards });
    const info = await this.s.must(['dmsetup', 'info', '-c', '--noheadings', '-o', 'blkdevname', this.names.crypt]);
    const blk = info.stdout.toString().trim();
    if (!/^dm-\d+$/.test(blk)) throw new InfraError(`dmsetup info gave no dm-N name for ${this.names.crypt}: '${blk}'`);
    const got = (await this.s.must(['cat', `/sys/block/${blk}/queue/discard_max_bytes`])).stdout.toString().trim();
    if (got !== String(exp.maxDiscardBytes)) {
      this.s.disagree({ step: -1, kind: 'discard-limit', expected: `${blk} discard_max_bytes ${exp.maxDiscardBytes} (${exp.why})`, found: got });
    }
    this.s.note(`${this.names.crypt} (${blk}) discard_max_bytes ${got}`);
  }

  /**
   * dm-integrity beneath dm-crypt journals too (LUKS2 always, crypt-aead in journal mode): what a clean close
   * left in its journal, which the next open replays over the host's changes (closed-journal.ts).
   */
  private async readClosedJournal(step: number): Promise<void> {
    const st = this.spec.scenario.stack;
    const { geom, sb } = this.must();
    this.pendingReplay = st.type === 'crypt-aead' && st.mode !== 'journal'
      ? undefined
      : await closedJournalBlocks(this.s, step, this.disks.host(this.layout.disk), geom, sb.journalSections, this.facts?.kernelVersion, this.wrote);
  }

  private replayClosedJournal(): void {
    if (this.pendingReplay === undefined) return;
    const healed = this.must().model.replayJournal(this.pendingReplay);
    this.s.note(`the open replays the ${this.pendingReplay.size} block(s) the journal still held${healed.length ? `, undoing the host's changes to block(s) ${healed.join(', ')}` : ''}`);
    this.pendingReplay = undefined;
  }

  private async corrupt(blocks: number[], where: CryptCorruption): Promise<void> {
    const { model, geom } = this.must();
    const image = this.disks.host(this.layout.disk);
    for (const block of blocks) {
      if (block >= model.blocks) throw new InfraError(`corrupt: block ${block} is beyond the device's ${model.blocks} blocks (the loader should have refused it)`);
      const at = cryptCorruptionOffset(geom, this.cipher, block, where);
      const byte = await this.s.images.readAt(image, at, 1);
      await this.s.images.writeAt(image, at, Buffer.from([byte[0]! ^ 0xff]));
      this.s.hostOp({ op: 'flip', disk: this.layout.disk, offset: at });
      model.corrupt(block, where === 'data' ? 'data' : 'tag');
    }
    this.s.note(`flipped one ${where === 'tag' ? 'auth-tag' : where} byte in blocks ${blocks.join(', ')}`);
  }

  /** dm-integrity without an internal hash verifies nothing, so its mismatch counter must stay 0. */
  private async status(i: number): Promise<void> {
    const { sb } = this.must();
    const r = await this.s.must(['dmsetup', 'status', this.names.integrity]);
    this.s.expect({ op: 'status', device: this.names.integrity, mismatches: [0, 0] }, 'last');
    const target = this.facts?.targets.get('integrity');
    const fields = integrityStatusFields(target);
    const j = judgeIntegrityStatus(i, r.stdout.toString(), { providedDataSectors: sb.providedDataSectors, mismatches: { min: 0, max: 0 }, why: 'no internal hash under dm-crypt', fields });
    if (j.status === undefined) throw new KernelFailure(`dmsetup status ${this.names.integrity}: unexpected output '${r.stdout.toString().trim()}' (integrity target ${target ?? '?'}: ${fields} status fields)`);
    j.disagreements.forEach((d) => this.s.disagree(d));
    const c = await this.s.must(['dmsetup', 'status', this.names.crypt]);
    judgeCryptStatus(i, c.stdout.toString(), sb.providedDataSectors).forEach((d) => this.s.disagree(d));
    this.s.note(`integrity mismatches ${j.status.mismatches}`);
  }

  /** Every AEAD error dm-crypt logged must be for a block some read was expected to fail on. */
  private async checkAeadLog(step: number): Promise<void> {
    const { model } = this.must();
    const log = (await this.s.must(['dmesg'])).stdout.toString();
    const { disagreements, blocks } = judgeAeadLog(step, log, this.mayFail, model.sectorsPerBlock);
    disagreements.forEach((d) => this.s.disagree(d));
    this.s.note(blocks.length ? `kernel logged AEAD errors for blocks ${blockList(blocks)}` : 'kernel logged no AEAD errors');
  }

  /** With the stack deactivated (journal drained), every sector of the raw disk against the model. */
  private async audit(step: number): Promise<void> {
    const { model } = this.must();
    const image = await this.s.images.wholeImage(this.disks.host(this.layout.disk));
    const j = judgeImageAudit(step, image, {
      verifier: cryptAeadVerifier({ cipher: this.cipher, key: this.key, sectorSize: this.layout.sectorSize, ivOffsetSectors: this.ivOffset }),
      startSector: this.startSector,
      expected: model,
    }, this.pendingReplay ?? new Set(), { record: 100 });
    if (j.report === undefined) throw new KernelFailure(`audit cannot read the disk the kernel left: ${j.unreadable!.message}`, { cause: j.unreadable });
    const report = j.report;
    if (j.owed > 0) this.s.note(`audit: ${j.owed} difference(s) in blocks the closed journal still holds, left to its replay`);
    j.disagreements.forEach((d) => this.s.disagree(d));
    const b = report.blocks;
    this.s.note(`audit: ${b.valid} sectors decrypt, ${b.blank} never written, ${b.invalid} fail; ${report.disagreementCount} disagreement(s)`);
  }
}
