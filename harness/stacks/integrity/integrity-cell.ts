import { setTimeout as sleep } from 'node:timers/promises';
import { expectActivation, maxSuperblockVersion, parseIntegrityTable, type IntegrityTable } from '../../model/integrity/activation.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { integrityGeometry, type IntegrityGeometry } from '../../model/integrity/geometry.ts';
import { JOURNAL_COMMIT_ID_ERROR } from '../../model/integrity/log.ts';
import { parseIntegritySuperblock, SB_BYTES, type IntegritySuperblock } from '../../model/integrity/superblock.ts';
import { planIntegrityFormat } from '../../model/integrity/format.ts';
import { digestSize } from '../../model/integrity/tags.ts';
import { ModelInputError } from '../../model/errors.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { expectCtr, type CtrAccepted, type CtrOutcome } from '../../model/integrity/ctr.ts';
import { ctrKernel } from '../../model/integrity/ctr-kernel.ts';
import type { GuestFacts } from '../../scenario/requirements.ts';
import { closedJournalBlocks, encryptedJournalInDoubt } from './closed-journal.ts';
import type { HostFault, IoRange, TableTry } from '../../scenario/schema.ts';
import type { IntegrityOpenMode, IntegrityStack, OpenedIntegrityStack } from './integrity-schema.ts';
import { runTablesStep } from './integrity-tables.ts';
import { runProfilesStep } from '../../run/session/profiles-step.ts';
import type { CellSpec, GuestSession } from '../../run/session/cell.ts';
import { KernelFailure, SkipCell } from '../../verdict/failures.ts';
import type { TransferPlan } from '../../run/session/disks.ts';
import { auditStack, checkKernelLog } from './integrity-checks.ts';
import { applyFault, dataSectorRanges, type FlippedByte } from './integrity-faults.ts';
import { raceStep } from './integrity-race.ts';
import { unstableStep } from './integrity-unstable.ts';
import { ChecksumTally, discardStep, flushStep, readStep, topDevice, writeStep, type FlushReach, type IoContext } from './integrity-io.ts';
import { DEFAULT_JOURNAL_COMMIT_MS, DEFAULT_JOURNAL_WATERMARK, expectFlushReach } from '../../model/integrity/flush-reach.ts';
import { checkTopDevice } from '../../run/session/io-refusal.ts';
import { reloadTable, suspendResume } from '../../run/session/dm-reload.ts';
import {
  delayTable, integrityCloseArgv, integrityFormatArgv, integrityKeyFiles, integrityOpenArgv, integrityTableArgs, lowerTable, mergeRanges, MODE_LETTER, openMode, parseIntegrityStatus,
  type IntegrityDevices,
} from './integrity-stack.ts';
import { judgeIntegrityStatus } from '../../run/session/status-judge.ts';
import { ctrExpectation, judgeSuperblockFormat, judgeSuperblockKept, planned, readKernelSuperblock } from '../../run/session/superblock-judge.ts';
import { judgeTableMode } from '../../run/session/table-judge.ts';
import { integrityStatusFields } from './integrity-requirements.ts';
import { beginSetup, CellDisks } from '../../run/session/guest-disks.ts';
import { PayloadIndex } from '../../repro/expect.ts';
import { writePattern } from '../../scenario/payload.ts';
import { CellCrashSteps } from '../../crash/steps/cell-crash.ts';
import { integrityCrashStack } from '../../crash/steps/crash-stack.ts';

const NAME = 'ih-int';
/** How often the cell asks whether a recalculation finished. */
const RECALC_POLL_MS = 250;
const LOWER = 'ih-low';
const TOP = `/dev/mapper/${NAME}`;

/**
 * Runs an integrity scenario: builds the stack with integritysetup (over a dm-linear device when asked),
 * moves bytes, applies faults, and judges everything with the model. With the stack closed at the end it
 * checks the kernel log and audits the raw images.
 */
export class IntegrityCell {
  private readonly stack: IntegrityStack;
  /** the mode the stack opens in: the scenario's, until an open step names another */
  private mode: IntegrityOpenMode;
  /** the mode a plain open returns to after a recovery open: the last one named other than recovery */
  private settledMode: IntegrityStack['mode'];
  private model: IntegrityDeviceModel | undefined;
  private geom: IntegrityGeometry | undefined;
  private journalSections = 0;
  /** blocks whose journal entries the last close left used: the next activation writes them again */
  private pendingReplay: Set<number> | undefined;
  /** a write step ran since the last activation (dm_integrity_resume resets wrote_to_journal) */
  private wrote = false;
  /** an encrypted journal on a kernel that may not clear it at suspend: host changes cannot be judged */
  private journalInDoubt = false;
  private facts: GuestFacts | undefined;
  /** the live table of the first activation: a refused open is retried with it through dmsetup */
  private table: { text: string; params: Omit<IntegrityTable, 'maxVersion'> } | undefined;
  private readonly disks: CellDisks;
  private readonly crashSteps: CellCrashSteps;
  private readonly tally = new ChecksumTally();
  /** step -> kernel lines the model requires in that step */
  private readonly requiredLog = new Map<number, string[]>();
  private errorRanges: Array<{ start: number; length: number }> = [];
  private superblockFlips: FlippedByte[] = [];
  private isOpen = false;
  private payload = new PayloadIndex();
  /** a raw-table stack (stack.table): dmsetup create/remove instead of integritysetup */
  private readonly raw: boolean;
  /** the ctr model's answer for the raw table's first activation (it formats the zeroed disk) */
  private ctrFirst: CtrAccepted | undefined;
  /**
   * Writes since the last point the journal was committed (an activation, a flush, a FUA or fsynced write):
   * the step of the first and the bytes (Infinity for a step whose writes the cell does not count).
   */
  private uncommitted: { firstStep: number; bytes: number } | undefined;
  /** a race's churn loaded a tuned table since the last activation: the live commit time and watermark are not the stack's */
  private tunedTable = false;

  constructor(
    private readonly spec: CellSpec,
    private readonly s: GuestSession,
    hostDisk: Map<string, string>,
    private readonly plan: TransferPlan,
  ) {
    this.disks = new CellDisks(hostDisk);
    if (spec.scenario.stack.type !== 'integrity') throw new InfraError(`IntegrityCell given a ${spec.scenario.stack.type} stack`);
    this.stack = spec.scenario.stack;
    this.mode = this.stack.mode;
    this.settledMode = this.stack.mode;
    this.raw = this.stack.table !== undefined;
    // a fresh guest after a kill step has lost the key files
    this.crashSteps = new CellCrashSteps({
      spec, session: s, plan, disks: this.disks, dataDisk: this.stack.disk,
      model: () => this.modelOrThrow(), geom: () => this.geom!,
      stack: (data) => integrityCrashStack(s, this.stack, NAME, data),
      afterReboot: () => this.writeKeyFiles(),
    });
  }

  async run(): Promise<void> {
    ({ facts: this.facts, payload: this.payload } = await beginSetup(this.s, this.disks, this.spec.scenario, this.plan));
    await this.writeKeyFiles();
    if (this.stack.lower !== 'disk') {
      const created = await this.s.run(['dmsetup', 'create', LOWER], { stdin: Buffer.from(this.lowerDeviceTable()) });
      if (created.exitCode !== 0) await this.lowerRefused(created.stderr.toString());
      await this.s.must(['dmsetup', 'mknodes', LOWER]);
    }
    // the compatibility pass's reader opens what another kernel formatted
    if (this.raw) this.s.note('raw table: the kernel formats the zeroed disk itself at the first dmsetup create (no wipe)');
    else if (this.spec.phase !== 'read') await this.s.must(integrityFormatArgv(this.stack, this.devices()));
    else this.s.note('opening the disk another kernel formatted and wrote (no format)');
    await this.activate();
    await this.recordTable();
    const read = readKernelSuperblock(await this.s.images.readAt(this.sbImage(), 0, SB_BYTES), `${this.stack.metaDisk ?? this.stack.disk} superblock`);
    // the kernel wrote this superblock (integritysetup format loads the target, the target writes it)
    if ('unreadable' in read) throw new KernelFailure(`dm-integrity did not write a superblock the model can read: ${read.unreadable}`, { cause: read.cause });
    const { sb } = read;
    this.geom = integrityGeometry(sb, { separateMetadata: this.stack.metaDisk !== undefined });
    this.journalSections = sb.journalSections;
    if (this.spec.phase !== 'read') this.checkFormat(sb);
    this.model = new IntegrityDeviceModel({
      sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, allowDiscards: this.stack.allowDiscards,
      wiped: !this.stack.noWipe && !this.raw,
    });
    this.model.activate();
    if (this.stack.recalculate) this.model.recalculate();
    const io = this.ioContext();
    await checkTopDevice(this.s, -1, topDevice(io));
    for (const [i, step] of this.spec.scenario.steps.entries()) {
      const kind = typeof step === 'string' ? step : Object.keys(step)[0]!;
      await this.s.begin(i, kind);
      if (step === 'open') await this.openStep(i);
      else if (typeof step === 'object' && 'open' in step) await this.openStep(i, step.open.mode);
      else if (step === 'close') await this.close(i);
      else if (step === 'status') await this.status(i);
      else if (step === 'flush') { await flushStep(io, i, this.flushReach(i)); this.uncommitted = undefined; }
      else if (step === 'reload' || step === 'suspend') await this.reload(i, step);
      else if ('write' in step && this.spec.phase === 'read') { this.modelOrThrow().write(step.write.offset / 512, writePattern(this.spec.scenario, i, step.write)); this.s.note('written by the other kernel'); }
      else if ('write' in step) { this.noteAreas(step.write); this.wrote = true; this.countUncommitted(i, step.write.fua || step.write.buffered ? undefined : step.write.length); await writeStep(io, i, step.write); }
      else if ('read' in step && this.spec.phase === 'write') this.s.note('left to the reading kernel');
      else if ('read' in step) { this.noteAreas(step.read); await readStep(io, i, step.read); }
      else if ('discard' in step) { this.countUncommitted(i, Infinity); await discardStep(io, i, step.discard); }
      else if ('race' in step && this.spec.phase !== undefined) throw new UsageError(`steps[${i}].race: a race's outcome is the kernel's timing, which a compatibility pass cannot carry to the other kernel`);
      else if ('race' in step) {
        this.noteAreas({ offset: step.race.offset, length: step.race.length });
        this.wrote = true;
        this.countUncommitted(i, Infinity);
        if (step.race.churn?.cycles.some((c) => c.reload === 'tuned')) this.tunedTable = true;
        await raceStep({ ...io, dm: { top: NAME, integrity: NAME }, reactivated: (wroteAfter) => this.churned(i, wroteAfter) }, i, step.race);
      }
      else if ('unstable' in step && this.spec.phase !== undefined) throw new UsageError(`steps[${i}].unstable: what a changing buffer leaves is the kernel's timing, which a compatibility pass cannot carry to the other kernel`);
      else if ('unstable' in step) {
        this.noteAreas({ offset: step.unstable.offset, length: step.unstable.length });
        this.wrote = true;
        if (this.mode === 'recovery') throw new UsageError(`steps[${i}].unstable: the stack is open in recovery mode, which refuses every write`);
        this.countUncommitted(i, Infinity);
        await unstableStep({ ...io, stack: this.mode, tally: this.tally }, i, step.unstable);
      }
      else if ('ioError' in step) await this.ioError(step.ioError.blocks);
      else if ('crash' in step) { await this.crashSteps.crash(i, step.crash); this.wrote = false; this.countUncommitted(i, Infinity); }
      else if ('kill' in step) { await this.crashSteps.kill(i, step.kill); this.wrote = false; this.countUncommitted(i, Infinity); }
      else if ('tables' in step) await this.tables(i, step.tables);
      else if ('profiles' in step) {
        await runProfilesStep({
          s: this.s, disks: this.disks, declared: new Map(this.spec.scenario.disks.map((d) => [d.name, d])),
          kernelVersion: this.facts?.kernelVersion ?? [0], at: `${this.spec.scenario.file}: steps[${i}].profiles`,
        }, i, step.profiles);
      }
      else await this.fault(step);
    }
    const end = this.spec.scenario.steps.length;
    await this.s.begin(end, 'teardown');
    if (this.isOpen) await this.close(end);
    if (this.stack.lower !== 'disk') await this.s.must(['dmsetup', 'remove', LOWER]);
    if (this.crashSteps.crashed) return;
    const dmesg = await this.s.must(['dmesg']);
    checkKernelLog(this.s, end, dmesg.stdout.toString(), this.tally, this.requiredLog, this.modelOrThrow().sectorsPerBlock);
    await auditStack(this.s, end, this.stack, this.modelOrThrow(), this.images(), this.superblockFlips, this.pendingReplay);
  }

  /** Raw tables the ctr model judges (integrity-tables.ts); the stack is closed. */
  private async tables(i: number, tables: TableTry[]): Promise<void> {
    await this.flushGuestCaches();
    await runTablesStep({
      s: this.s, disks: this.disks, diskSizes: new Map(this.spec.scenario.disks.map((d) => [d.name, d.size])),
      stackDisks: [this.stack.disk, ...(this.stack.metaDisk !== undefined ? [this.stack.metaDisk] : [])],
      kernelVersion: this.facts?.kernelVersion ?? [0], memoryMb: this.spec.memoryMb, at: `${this.spec.scenario.file}: steps[${i}].tables`,
    }, i, tables);
  }

  /** The keys the stack's commands read from files (the guest has no /dev/stdin). */
  private async writeKeyFiles(): Promise<void> {
    for (const { file, key } of integrityKeyFiles(this.stack)) await this.s.must(['tee', file], { stdin: key });
  }

  private devices(): IntegrityDevices {
    const data = this.stack.lower !== 'disk' ? `/dev/mapper/${LOWER}` : this.disks.dev(this.stack.disk);
    return this.stack.metaDisk !== undefined ? { data, meta: this.disks.dev(this.stack.metaDisk) } : { data };
  }

  /**
   * The lower device's table was refused. dm-delay before its flush class (4.13's and 4.14's target 1.2.1, and
   * the same version number after it) takes 3 or 6 arguments only ("Requires exactly 3 or 6 arguments"): that
   * kernel cannot build this stack, which is no failure of it. Anything else is the kernel failing.
   */
  private async lowerRefused(stderr: string): Promise<never> {
    const log = (await this.s.must(['dmesg'])).stdout.toString();
    if (this.stack.lower === 'delay' && /delay: Requires exactly 3 or 6 arguments/.test(log)) {
      throw new SkipCell('this kernel\'s dm-delay has no flush class (3 or 6 arguments only), and the stack\'s lower device gives flushes their own delay');
    }
    throw new KernelFailure(`dmsetup create ${LOWER} (${this.stack.lower}) failed: ${stderr.trim().split('\n').at(-1) ?? ''}`);
  }

  /** The table of the device-mapper device between the data disk and dm-integrity (stack.lower). */
  private lowerDeviceTable(): string {
    const disk = this.disks.dev(this.stack.disk);
    if (this.stack.lower === 'linear') return lowerTable(disk, this.diskSectors());
    if (this.stack.lowerDelay === undefined) throw new InfraError('lower: delay without lowerDelay (the loader requires it)');
    const sink = this.spec.hooks?.delayFlushesTo;
    return delayTable(disk, this.diskSectors(), this.stack.lowerDelay, sink ?? disk);
  }

  private images(): { data: string; meta?: string } {
    const data = this.disks.host(this.stack.disk);
    return this.stack.metaDisk !== undefined ? { data, meta: this.disks.host(this.stack.metaDisk) } : { data };
  }

  private openStack(): OpenedIntegrityStack {
    return { ...this.stack, mode: this.mode };
  }

  /** The image holding the superblock: the metadata disk when there is one. */
  private sbImage(): string {
    return this.disks.host(this.stack.metaDisk ?? this.stack.disk);
  }

  private diskSectors(): number {
    const d = this.spec.scenario.disks.find((x) => x.name === this.stack.disk);
    if (d === undefined) throw new InfraError(`stack disk '${this.stack.disk}' is not declared`);
    return d.size / 512;
  }

  private ioContext(): IoContext {
    return {
      s: this.s, model: this.modelOrThrow(), tally: this.tally, top: TOP,
      payloadDev: this.disks.dev('payload'), outDev: this.disks.dev('out'), outImage: this.disks.host('out'),
      patternFor: (step: number, r: IoRange) => writePattern(this.spec.scenario, step, r), payload: this.payload,
      transferOffset: (step: number) => {
        const o = this.plan.offsets.get(step);
        if (o === undefined) throw new InfraError(`no transfer offset planned for step ${step}`);
        return o;
      },
    };
  }

  /** A write step's bytes since the last commit; undefined: the step commits them itself (FUA, fsync). */
  private countUncommitted(step: number, bytes: number | undefined): void {
    if (bytes === undefined) this.uncommitted = undefined;
    else this.uncommitted = { firstStep: this.uncommitted?.firstStep ?? step, bytes: (this.uncommitted?.bytes ?? 0) + bytes };
  }

  /** The lower disks a flush step observes and what the model requires of each (flush-reach.ts). */
  private flushReach(i: number): FlushReach {
    const block = (name: string) => this.disks.dev(name).replace(/^\/dev\//, '');
    const g = this.geom!;
    const u = this.uncommitted;
    return {
      disks: [{ role: 'data', block: block(this.stack.disk) }, ...(this.stack.metaDisk !== undefined ? [{ role: 'meta' as const, block: block(this.stack.metaDisk) }] : [])],
      duties: (writeCache) => expectFlushReach({
        mode: this.mode, separateMetadata: this.stack.metaDisk !== undefined, writeCache,
        // each step since the first uncommitted write took at most its timeout
        ...(u !== undefined ? { uncommitted: { bytes: u.bytes, maxMsBeforeFlush: (i - u.firstStep + 1) * this.s.stepTimeoutMs } } : {}),
        journalCommitMs: this.stack.journalCommitTime ?? DEFAULT_JOURNAL_COMMIT_MS,
        journalWatermark: this.stack.journalWatermark ?? DEFAULT_JOURNAL_WATERMARK,
        tunedTable: this.tunedTable,
        journalBytes: this.journalSections * g.journalSectionEntries * this.modelOrThrow().blockSize,
      }),
    };
  }

  /** Says in the report when a range crosses interleave areas (and the metadata run between them). */
  private noteAreas(r: { offset: number; length: number }): void {
    const g = this.geom!;
    if (g.separateMetadata) return;
    const first = Math.floor(r.offset / 512 / g.interleaveSectors);
    const last = Math.floor((r.offset + r.length - 1) / 512 / g.interleaveSectors);
    if (last > first) this.s.note(`range crosses interleave areas ${first}..${last} (${g.interleaveSectors} sectors each)`);
  }

  private async flushGuestCaches(): Promise<void> {
    await this.s.must(['blockdev', '--flushbufs', this.disks.dev(this.stack.disk)]);
    if (this.stack.metaDisk !== undefined) await this.s.must(['blockdev', '--flushbufs', this.disks.dev(this.stack.metaDisk)]);
  }

  private async activate(): Promise<void> {
    await this.flushGuestCaches();
    if (this.raw) await this.createFromTable();
    else await this.s.must(integrityOpenArgv(this.openStack(), this.devices(), NAME));
    await this.s.must(['dmsetup', 'mknodes', NAME]);
    this.isOpen = true;
    this.wrote = false;
    this.uncommitted = undefined;
    this.tunedTable = false;
    this.tally.resetWindow();
    if (this.stack.recalculate) await this.waitRecalculated();
  }

  /** The raw table's line for the current mode. */
  private tableArgs(): string {
    return integrityTableArgs(this.openStack(), this.devices());
  }

  /** What the ctr model says of the raw table on the disks as they are now (superblock read from the image). */
  private async ctrOutcome(length?: number): Promise<CtrOutcome> {
    const area = await this.s.images.readAt(this.sbImage(), 0, SB_BYTES);
    const d = this.devices();
    const sizes = new Map<string, number>([[d.data, this.diskSectors()]]);
    if (d.meta !== undefined) sizes.set(d.meta, this.spec.scenario.disks.find((x) => x.name === this.stack.metaDisk)!.size / 512);
    const sbPath = d.meta ?? d.data;
    const env = (len: number) => ({
      kernel: ctrKernel(this.facts?.kernelVersion ?? [0]), length: len, ramPages: this.spec.memoryMb * 256,
      device: (p: string) => (sizes.has(p) ? { sectors: sizes.get(p)!, read: () => (p === sbPath ? area : Buffer.alloc(SB_BYTES)) } : undefined),
    });
    try {
      const first = expectCtr(this.tableArgs(), env(length ?? 8));
      return first.ok && length === undefined ? expectCtr(this.tableArgs(), env(first.providedDataSectors)) : first;
    } catch (e) {
      if (e instanceof ModelInputError) throw new UsageError(`${this.spec.scenario.file}: stack.table: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** dmsetup create from the raw table, sized as the ctr model says the target provides. */
  private async createFromTable(): Promise<void> {
    const want = await this.ctrOutcome();
    if (!want.ok) throw new UsageError(`${this.spec.scenario.file}: stack.table: the ctr model says the kernel refuses '${this.tableArgs()}': ${want.error}`);
    this.ctrFirst ??= want;
    await this.s.must(['dmsetup', 'create', NAME, '--table', `0 ${want.providedDataSectors} integrity ${this.tableArgs()}`]);
  }

  /**
   * --integrity-recalculate runs in the background: until `dmsetup status` shows no recalculation sector, reads
   * of what it has not reached are not verified. The model describes the device after it, so the cell waits.
   */
  private async waitRecalculated(): Promise<void> {
    const deadline = Date.now() + this.s.stepTimeoutMs;
    for (let polls = 1; ; polls++) {
      const r = await this.s.must(['dmsetup', 'status', NAME]);
      const st = parseIntegrityStatus(r.stdout.toString());
      if (st === undefined) throw new KernelFailure(`dmsetup status ${NAME}: unexpected output '${r.stdout.toString().trim()}'`);
      // the kernel leaves the flag set in journal and direct mode: its sector at the end says it is done
      if (st.recalcSector === '-' || Number(st.recalcSector) >= st.providedDataSectors) {
        this.s.note(`recalculation done after ${polls} status poll(s)`);
        return;
      }
      if (Date.now() > deadline) throw new KernelFailure(`recalculation still at sector ${st.recalcSector} of ${st.providedDataSectors} after ${this.s.stepTimeoutMs / 1000}s`);
      await sleep(RECALC_POLL_MS);
    }
  }

  /**
   * Format drift: the superblock the kernel wrote must size the device as the model's own format plan does
   * (crypt and luks cells check theirs the same way), before the model takes its geometry from it. The
   * flags integritysetup asks for depend on its version and the kernel's, so they come from the superblock;
   * the sizes may not. With a separate metadata device the plan sizes the journal by what fits there.
   */
  private checkFormat(sb: IntegritySuperblock): void {
    if (this.raw) return this.checkTableFormat(sb);
    const meta = this.stack.metaDisk !== undefined ? this.spec.scenario.disks.find((d) => d.name === this.stack.metaDisk) : undefined;
    const want = planIntegrityFormat({
      deviceSectors: this.diskSectors(), ...(meta !== undefined ? { metaDeviceSectors: meta.size / 512 } : {}), tagSize: this.stack.tagSize ?? digestSize(this.stack.hash), sectorsPerBlock: this.stack.sectorSize / 512,
      ...(this.stack.interleaveSectors !== undefined ? { interleaveSectors: this.stack.interleaveSectors } : {}),
      ...(this.stack.journalSize !== undefined ? { journalSectors: this.stack.journalSize / 512 } : {}),
      fixPadding: sb.fixedPadding, fixHmac: sb.fixedHmac, internalHash: true, journalMac: this.stack.journalIntegrity !== undefined,
    });
    judgeSuperblockFormat(sb, { fields: planned(want), source: "the model's format plan" }).forEach((d) => this.s.disagree(d));
  }

  /** A raw table formatted the zeroed disk at its first activation: the superblock the ctr model predicted. */
  private checkTableFormat(sb: IntegritySuperblock): void {
    const want = this.ctrFirst;
    if (want === undefined || !want.formats) throw new InfraError('raw-table stack: the first activation did not format');
    judgeSuperblockFormat(sb, ctrExpectation(want.superblock)).forEach((d) => this.s.disagree(d));
  }

  private async recordTable(): Promise<void> {
    const text = (await this.s.must(['dmsetup', 'table', '--showkeys', NAME])).stdout.toString().trim();
    const params = parseIntegrityTable(text);
    if (params === undefined) throw new KernelFailure(`dmsetup table ${NAME}: not an integrity table: '${text}'`);
    this.table = { text, params };
  }

  /**
   * The model decides from the superblock on disk whether the kernel must accept this activation. A plain
   * open after a recovery open is in the mode the stack had before it.
   */
  private async openStep(i: number, mode?: IntegrityOpenMode): Promise<void> {
    const next = openMode(this.settledMode, mode);
    if (next.mode !== this.mode) this.s.note(`opens in ${next.mode} mode (was ${this.mode})`);
    const leavesRecovery = this.mode === 'recovery' && next.mode !== 'recovery';
    this.mode = next.mode;
    this.settledMode = next.settled;
    const recovery = next.mode === 'recovery';
    const model = this.modelOrThrow();
    const table = this.table!;
    const sbBefore = await this.s.images.readAt(this.sbImage(), 0, SB_BYTES);
    const act = this.raw ? await this.ctrOutcome() : expectActivation(sbBefore, { ...table.params, maxVersion: maxSuperblockVersion(this.facts?.kernelVersion ?? [0]) });
    if (!act.ok) {
      await this.refusedOpen(i, act.error, sbBefore);
      return;
    }
    await this.activate();
    model.activate({ recovery });
    if (recovery || leavesRecovery) await this.checkLiveMode(i);
    if (recovery && this.pendingReplay !== undefined) {
      this.s.note(`recovery mode replays no journal: the ${this.pendingReplay.size} block(s) it still holds wait for the next normal open`);
    } else if (this.pendingReplay !== undefined) {
      const healed = model.replayJournal(this.pendingReplay);
      this.s.note(`the open replays the ${this.pendingReplay.size} block(s) the journal still held${healed.length ? `, undoing the host's changes to block(s) ${healed.join(', ')}` : ''}`);
      this.pendingReplay = undefined;
    }
    if (this.stack.recalculate) this.recalculatedFrom(sbBefore);
    if (!model.failedErrno) await checkTopDevice(this.s, i, topDevice(this.ioContext()));
    if (model.failedErrno) {
      this.require(i, JOURNAL_COMMIT_ID_ERROR);
      this.s.note(`the model expects the device to fail every I/O with errno ${model.failedErrno}`);
    }
  }

  /** integritysetup must have asked the kernel for the open's mode: the live table's mode letter. */
  private async checkLiveMode(i: number): Promise<void> {
    const text = (await this.s.must(['dmsetup', 'table', NAME])).stdout.toString();
    judgeTableMode(i, text, { letter: MODE_LETTER[this.mode], mode: this.mode }).forEach((d) => this.s.disagree(d));
  }

  /**
   * What an open with --integrity-recalculate recalculates, by the superblock it found: everything when no
   * recalculation was under way, the rest when one was cut short; nothing when the last one reached the end,
   * which leaves the flag set in journal and direct mode (dm_integrity_ctr() starts over only without it).
   * With reset_recalculate, dm_integrity_resume() sets the flag and sector 0 whatever the superblock said.
   */
  private recalculatedFrom(sbArea: Buffer): void {
    const model = this.modelOrThrow();
    const sb = parseIntegritySuperblock(sbArea, `${this.stack.metaDisk ?? this.stack.disk} superblock`);
    if (this.stack.recalculate === 'reset' || !sb.recalculating) model.recalculate(0);
    else if (sb.recalcSector < sb.providedDataSectors) model.recalculate(Math.floor(sb.recalcSector / model.sectorsPerBlock));
    else this.s.note('the last recalculation reached the end: the kernel does not start another');
  }

  /**
   * Both integritysetup and the kernel must refuse the activation (integritysetup may refuse before the
   * kernel sees it, so the recorded table is loaded with dmsetup too), and nothing may write the superblock.
   */
  private async refusedOpen(i: number, error: string, sbBefore: Buffer): Promise<void> {
    await this.flushGuestCaches();
    if (!this.raw) {
      this.s.expect({ op: 'refused', why: error });
      const viaTool = await this.s.run(integrityOpenArgv(this.openStack(), this.devices(), NAME));
      if (viaTool.exitCode === 0) {
        this.s.disagree({ step: i, kind: 'open-accepted', expected: `refused: ${error}`, found: 'integritysetup open succeeded' });
        await this.s.must(integrityCloseArgv(NAME));
      }
    }
    this.s.expect({ op: 'refused', why: error });
    const viaTable = await this.s.run(['dmsetup', 'create', NAME, '--table', this.table!.text]);
    if (viaTable.exitCode === 0) {
      this.s.disagree({ step: i, kind: 'open-accepted', expected: `refused: ${error}`, found: 'the kernel accepted the table' });
      await this.s.must(['dmsetup', 'remove', NAME]);
    }
    this.require(i, `integrity: ${error}`);
    const sbAfter = await this.s.images.readAt(this.sbImage(), 0, SB_BYTES);
    judgeSuperblockKept(i, sbBefore, sbAfter, 'the refused superblock left as it was').forEach((d) => this.s.disagree(d));
    this.s.note(`open refused as the model says: ${error}`);
  }

  private require(step: number, line: string): void {
    this.requiredLog.set(step, [...(this.requiredLog.get(step) ?? []), line]);
  }

  /**
   * A table reload or a suspend/resume of the open device. The model sees a deactivation and an activation:
   * postsuspend writes the journal out, and a replay at resume writes the same data again.
   */
  private async reload(i: number, how: 'reload' | 'suspend'): Promise<void> {
    const model = this.modelOrThrow();
    if (how === 'reload') await reloadTable(this.s, NAME);
    else await suspendResume(this.s, NAME);
    this.wrote = false;
    this.uncommitted = undefined;
    model.deactivate();
    model.activate({ recovery: this.mode === 'recovery' });
    if (!model.failedErrno) await checkTopDevice(this.s, i, topDevice(this.ioContext()));
  }

  /** After a race's churn: its rounds deactivated and activated the target as a reload step does. */
  private async churned(i: number, wroteAfter: boolean): Promise<void> {
    const model = this.modelOrThrow();
    this.wrote = wroteAfter;
    model.deactivate();
    model.activate({ recovery: this.mode === 'recovery' });
    if (!model.failedErrno) await checkTopDevice(this.s, i, topDevice(this.ioContext()));
  }

  private async close(step: number): Promise<void> {
    await this.s.must(this.raw ? ['dmsetup', 'remove', NAME] : integrityCloseArgv(NAME));
    this.isOpen = false;
    this.model?.deactivate();
    // recovery mode builds no journal and writes nothing: what the last close left stays as it was
    if (this.mode === 'recovery') return;
    await this.readClosedJournal(step);
  }

  /**
   * After a clean close in journal mode, whether the kernel left journal entries used (closed-journal.ts): a
   * later open replays them over the host's changes, so the model must know which blocks. An encrypted
   * journal (--journal-crypt) cannot be read from the host: on a kernel that may not clear it, host changes
   * after this close are not judged.
   */
  private async readClosedJournal(step: number): Promise<void> {
    this.pendingReplay = undefined;
    this.journalInDoubt = false;
    if (this.mode !== 'journal' || this.geom === undefined || this.model === undefined) return;
    if (this.stack.journalCrypt !== undefined) {
      this.journalInDoubt = encryptedJournalInDoubt(this.facts?.kernelVersion);
      return;
    }
    this.pendingReplay = await closedJournalBlocks(this.s, step, this.sbImage(), this.geom, this.journalSections, this.facts?.kernelVersion, this.wrote);
  }

  private modelOrThrow(): IntegrityDeviceModel {
    if (this.model === undefined) throw new InfraError('model used before the stack was formatted');
    return this.model;
  }

  private async fault(f: HostFault): Promise<void> {
    if ('corruptJournal' in f && this.pendingReplay !== undefined) {
      throw new SkipCell('the kernel left journal entries used at the last close (a kernel not known to clear it at suspend, 984bf2cc531e): the next open replays the journal the host changes, which the model does not follow');
    }
    if (this.journalInDoubt) {
      throw new SkipCell('the journal is encrypted and this kernel predates the journal clear at suspend (984bf2cc531e): whether the next open replays it over the host\'s changes cannot be told from the host');
    }
    const { flipped, note, ops } = await applyFault({
      geom: this.geom!, model: this.modelOrThrow(), images: this.images(), io: this.s.images, roles: { data: this.stack.disk, meta: this.stack.metaDisk ?? this.stack.disk },
      ...(this.spec.hooks?.corruptionTarget ? { targetOf: this.spec.hooks.corruptionTarget } : {}),
    }, f);
    if ('corruptSuperblock' in f) this.superblockFlips.push(...flipped);
    for (const op of ops) this.s.hostOp(op);
    this.s.note(note);
  }

  /** Maps dm-error over the blocks' data sectors in the dm-linear device under dm-integrity. */
  private async ioError(blocks: number[]): Promise<void> {
    const model = this.modelOrThrow();
    this.errorRanges = mergeRanges([...this.errorRanges, ...dataSectorRanges(this.geom!, blocks)]);
    const table = lowerTable(this.disks.dev(this.stack.disk), this.diskSectors(), this.errorRanges);
    await this.s.must(['dmsetup', 'load', LOWER], { stdin: Buffer.from(table) });
    await this.s.must(['dmsetup', 'resume', LOWER]);
    blocks.forEach((b) => model.ioError(b));
    this.s.note(`dm-error over data sectors ${this.errorRanges.map((r) => `${r.start}+${r.length}`).join(', ')}`);
  }

  private async status(i: number): Promise<void> {
    const r = await this.s.must(['dmsetup', 'status', NAME]);
    const model = this.modelOrThrow();
    const { min, max } = this.tally.window;
    const target = this.facts?.targets.get('integrity');
    const fields = integrityStatusFields(target);
    const j = judgeIntegrityStatus(i, r.stdout.toString(), { providedDataSectors: model.providedDataSectors, mismatches: { min, max }, fields });
    if (j.status === undefined) throw new KernelFailure(`dmsetup status ${NAME}: unexpected output '${r.stdout.toString().trim()}' (integrity target ${target ?? '?'}: ${fields} status fields)`);
    this.s.expect({ op: 'status', device: NAME, mismatches: [this.tally.modelWindow.min, this.tally.modelWindow.max] }, 'last');
    j.disagreements.forEach((d) => this.s.disagree(d));
    this.s.note(j.status.mismatches !== undefined
      ? `mismatches ${j.status.mismatches} (model ${min === max ? min : `${min}..${max}`})`
      : `integrity target ${target ?? '?'} has no mismatch counter (model ${min === max ? min : `${min}..${max}`}, not observable)`);
  }
}
