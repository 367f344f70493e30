/**
 * Runs a crypt-aead scenario: dm-integrity (no internal hash) formatted and opened with dmsetup tables,
 * dm-crypt AEAD on top, O_DIRECT I/O through /dev/mapper/ih-crypt, host-side corruptions of ciphertext,
 * auth tag or IV, and at the end an audit of the raw disk that decrypts every sector with the model.
 */
import { parseIoReport } from '../../vm/agent/client.ts';
import { InfraError } from '../errors.ts';
import { auditIntegrityImage } from '../model/integrity/audit.ts';
import { cryptCorruptionOffset, type CryptCorruption } from '../model/crypt/corrupt.ts';
import { deriveCryptKey, parseCryptCipher, type CryptAeadCipher } from '../model/crypt/cipher.ts';
import { cryptAeadVerifier } from '../model/crypt/verifier.ts';
import { ModelInputError } from '../model/errors.ts';
import { IntegrityDeviceModel } from '../model/integrity/device.ts';
import { planIntegrityFormat } from '../model/integrity/format.ts';
import { integrityGeometry, type IntegrityGeometry } from '../model/integrity/geometry.ts';
import { parseIntegritySuperblock, SB_BYTES, type IntegritySuperblock } from '../model/integrity/superblock.ts';
import type { CryptAeadStack } from '../scenario/crypt-schema.ts';
import type { IoRange } from '../scenario/schema.ts';
import { KernelFailure, SkipCell, type CellSpec, type GuestSession } from './cell.ts';
import {
  aeadErrorSectors, classifyCryptCreateFailure, CRYPT_NAME, cryptoDriver, cryptTable, dmCreateArgv, dmRemoveArgv,
  FORMAT_NAME, INTEGRITY_NAME, integrityTable,
} from './crypt-stack.ts';
import { ioSize, readAt, writeAt, type TransferPlan } from './disks.ts';
import { mapGuestDisks, requireTargets, writePattern, writePayload } from './guest-disks.ts';
import { parseIntegrityStatus } from './integrity-stack.ts';
import { blockList, judgeRead } from './read-judge.ts';

const TOP = `/dev/mapper/${CRYPT_NAME}`;

export class CryptCell {
  private readonly stack: CryptAeadStack;
  private readonly cipher: CryptAeadCipher;
  private readonly key: Buffer;
  private guestDisk = new Map<string, string>();
  private state: { model: IntegrityDeviceModel; geom: IntegrityGeometry; sb: IntegritySuperblock } | undefined;
  private isOpen = false;
  /** every block some read was expected to fail on: the only blocks dm-crypt may log AEAD errors for */
  private readonly mayFail = new Set<number>();

  constructor(
    private readonly spec: CellSpec,
    private readonly s: GuestSession,
    private readonly hostDisk: Map<string, string>,
    private readonly plan: TransferPlan,
  ) {
    if (spec.scenario.stack.type !== 'crypt-aead') throw new InfraError(`CryptCell given a ${spec.scenario.stack.type} stack`);
    this.stack = spec.scenario.stack;
    this.cipher = parseCryptCipher(this.stack.cipher);
    this.key = this.stack.key !== undefined ? Buffer.from(this.stack.key, 'hex') : deriveCryptKey(this.cipher, spec.scenario.id);
  }

  async run(): Promise<void> {
    await this.s.begin(-1, 'setup');
    this.guestDisk = await mapGuestDisks(this.s, this.hostDisk.keys());
    await requireTargets(this.s, ['integrity', 'crypt', ...this.spec.scenario.requires.targets]);
    await writePayload(this.spec.scenario, this.plan, this.host('payload'));
    await this.format();
    await this.open(true);
    const steps = this.spec.scenario.steps;
    for (const [i, step] of steps.entries()) {
      if (step === 'open') { await this.s.begin(i, 'open'); await this.open(false); }
      else if (step === 'close') { await this.s.begin(i, 'close'); await this.close(); }
      else if (step === 'status') { await this.s.begin(i, 'status'); await this.status(i); }
      else if (typeof step === 'string' || !('write' in step || 'read' in step || 'corrupt' in step)) {
        throw new InfraError(`steps[${i}]: ${JSON.stringify(step)} reached a crypt-aead cell (the loader refuses it)`);
      }
      else if ('write' in step) { await this.s.begin(i, 'write'); await this.write(i, step.write); }
      else if ('read' in step) { await this.s.begin(i, 'read'); await this.read(i, step.read); }
      else if ('corrupt' in step) { await this.s.begin(i, 'corrupt'); await this.corrupt(step.corrupt.blocks, step.corrupt.where); }
    }
    await this.s.begin(steps.length, 'teardown');
    if (this.isOpen) await this.close();
    await this.checkAeadLog(steps.length);
    this.audit(steps.length);
  }

  private host(role: string): string {
    const p = this.hostDisk.get(role);
    if (p === undefined) throw new InfraError(`no host image for disk '${role}'`);
    return p;
  }

  private dev(role: string): string {
    const d = this.guestDisk.get(role);
    if (d === undefined) throw new InfraError(`guest has no disk with serial ih-${role}`);
    return d;
  }

  private must(): NonNullable<CryptCell['state']> {
    if (this.state === undefined) throw new InfraError('crypt model used before dm-integrity was formatted');
    return this.state;
  }

  /** A one-block dm-integrity table on the zeroed disk formats it; the superblock then says how big it is. */
  private async format(): Promise<void> {
    const bs = this.stack.sectorSize;
    await this.s.must(dmCreateArgv(FORMAT_NAME, integrityTable({ device: this.dev(this.stack.disk), sectors: bs / 512, tagSize: this.cipher.tupleSize, mode: this.stack.mode, blockSize: bs })));
    await this.s.must(dmRemoveArgv(FORMAT_NAME));
    let sb: IntegritySuperblock;
    try {
      sb = parseIntegritySuperblock(await readAt(this.host(this.stack.disk), 0, SB_BYTES), `${this.stack.disk} superblock`);
    } catch (e) {
      if (e instanceof ModelInputError) throw new KernelFailure(`dm-integrity did not write a valid superblock: ${e.message}`, { cause: e });
      throw e;
    }
    this.checkFormat(sb);
    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: false });
    this.state = { model, geom: integrityGeometry(sb), sb };
    this.s.note(`dm-integrity: ${sb.providedDataSectors} sectors, ${sb.tagSize}-byte tags, ${model.blockSize}-byte blocks, superblock v${sb.version}`);
  }

  /** Format drift: the superblock must be what the model predicts from the kernel's format rules. */
  private checkFormat(sb: IntegritySuperblock): void {
    const disk = this.spec.scenario.disks.find((d) => d.name === this.stack.disk)!;
    const want = planIntegrityFormat({
      deviceSectors: disk.size / 512, tagSize: this.cipher.tupleSize, sectorsPerBlock: this.stack.sectorSize / 512,
      fixPadding: true, bitmapMode: this.stack.mode === 'bitmap',
    });
    const fields = ['tagSize', 'log2SectorsPerBlock', 'log2InterleaveSectors', 'journalSections', 'providedDataSectors'] as const;
    for (const f of fields) {
      if (sb[f] !== want[f]) this.s.disagree({ step: -1, kind: 'format', expected: `superblock ${f} ${want[f]}`, found: String(sb[f]) });
    }
    if (!sb.fixedPadding) this.s.disagree({ step: -1, kind: 'format', expected: 'fixed-padding flag (table asked for fix_padding)', found: `flags 0x${sb.flags.toString(16)}` });
  }

  private async open(first: boolean): Promise<void> {
    const { sb } = this.must();
    const data = this.dev(this.stack.disk);
    // drop the guest's cached view of the disk: the host may have changed it while the stack was closed
    await this.s.must(['blockdev', '--flushbufs', data]);
    await this.s.must(dmCreateArgv(INTEGRITY_NAME, integrityTable({ device: data, sectors: sb.providedDataSectors, tagSize: this.cipher.tupleSize, mode: this.stack.mode, blockSize: this.stack.sectorSize })));
    if (first) await this.requireIntegrityProfile();
    const table = cryptTable({ sectors: sb.providedDataSectors, cipher: this.cipher, key: this.key, lower: `/dev/mapper/${INTEGRITY_NAME}`, sectorSize: this.stack.sectorSize });
    const r = await this.s.run(dmCreateArgv(CRYPT_NAME, table));
    if (r.exitCode !== 0) {
      const log = (await this.s.run(['dmesg'])).stdout.toString();
      const crypto = (await this.s.run(['cat', '/proc/crypto'])).stdout.toString();
      const why = classifyCryptCreateFailure(this.cipher, r.stderr.toString(), log, crypto);
      throw why.verdict === 'skip' && first ? new SkipCell(why.reason) : new KernelFailure(why.reason);
    }
    await this.s.must(['dmsetup', 'mknodes']);
    this.isOpen = true;
    if (first) {
      const driver = cryptoDriver((await this.s.must(['cat', '/proc/crypto'])).stdout.toString(), this.cipher.algorithm);
      this.s.note(`${this.cipher.algorithm} by ${driver ?? '(driver not listed in /proc/crypto)'}`);
    }
  }

  /** dm-crypt AEAD needs the block layer's integrity support (CONFIG_BLK_DEV_INTEGRITY): without it, skip. */
  private async requireIntegrityProfile(): Promise<void> {
    const info = await this.s.must(['dmsetup', 'info', '-c', '--noheadings', '-o', 'blkdevname', INTEGRITY_NAME]);
    const blk = info.stdout.toString().trim();
    if (!/^dm-\d+$/.test(blk)) throw new InfraError(`dmsetup info gave no dm-N name for ${INTEGRITY_NAME}: '${blk}'`);
    const r = await this.s.run(['cat', `/sys/block/${blk}/integrity/format`]);
    if (r.exitCode !== 0) throw new SkipCell(`kernel has no block integrity support (no /sys/block/${blk}/integrity: CONFIG_BLK_DEV_INTEGRITY off)`);
    // the profile's name changed (DM-DIF-EXT-TAG up to 6.10, nop since): dm-crypt's constructor judges it
    const tag = (await this.s.run(['cat', `/sys/block/${blk}/integrity/tag_size`])).stdout.toString().trim();
    this.s.note(`${blk} integrity profile ${r.stdout.toString().trim()}, tag_size ${tag}`);
  }

  private async close(): Promise<void> {
    await this.s.must(dmRemoveArgv(CRYPT_NAME));
    await this.s.must(dmRemoveArgv(INTEGRITY_NAME));
    this.isOpen = false;
  }

  private async write(i: number, r: IoRange): Promise<void> {
    const { model } = this.must();
    const res = await this.s.run(['ih-io', 'copy', '--src', this.dev('payload'), '--src-offset', String(this.plan.offsets.get(i)),
      '--dst', TOP, '--dst-offset', String(r.offset), '--length', String(r.length), '--bs', String(ioSize(r, model.blockSize)), '--block', String(model.blockSize)]);
    if (res.exitCode === 2 || res.exitCode === 3) throw new InfraError(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    const failed = parseIoReport(res.stdout).ios.filter((l) => l.op === 'write' && !l.ok);
    for (const f of failed) {
      this.s.disagree({ step: i, kind: 'write-failed', sector: f.off / 512, expected: 'write succeeds', found: `errno ${f.errno} (${f.error ?? '?'})` });
    }
    if (res.exitCode !== 0 && failed.length === 0) throw new KernelFailure(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    model.write(r.offset / 512, writePattern(this.spec.scenario, i, r));
  }

  private async read(i: number, r: IoRange): Promise<void> {
    const { model } = this.must();
    const bs = ioSize(r, model.blockSize);
    const outOff = this.plan.offsets.get(i)!;
    const res = await this.s.run(['ih-io', 'read', '--dev', TOP, '--offset', String(r.offset), '--length', String(r.length),
      '--bs', String(bs), '--block', String(model.blockSize), '--out', this.dev('out'), '--out-offset', String(outOff), '--log-ok']);
    if (res.exitCode === 2 || res.exitCode === 3) throw new InfraError(`ih-io read exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    const got = await readAt(this.host('out'), outOff, r.length);
    const j = judgeRead(model, { step: i, offset: r.offset, length: r.length, bs }, parseIoReport(res.stdout), got);
    if (j.missing.length > 0) throw new InfraError(`ih-io read reported nothing for offset(s) ${j.missing.slice(0, 5).join(', ')}`);
    if (j.shortReads.length > 0) throw new KernelFailure(`short read at offset ${j.shortReads[0]} of ${TOP}`);
    j.expectedFailing.forEach((b) => this.mayFail.add(b));
    j.disagreements.forEach((d) => this.s.disagree(d));
    const errnos = [...new Set(j.failedErrnos)].join('/');
    this.s.note(j.failedBlocks.length === 0
      ? `all ${r.length / model.blockSize} blocks read`
      : `failed blocks: ${blockList(j.failedBlocks)} (errno ${errnos}); model: ${j.expectedFailing.length ? blockList(j.expectedFailing) : 'none'}`);
  }

  private async corrupt(blocks: number[], where: CryptCorruption): Promise<void> {
    const { model, geom } = this.must();
    const image = this.host(this.stack.disk);
    for (const block of blocks) {
      if (block >= model.blocks) throw new InfraError(`corrupt: block ${block} is beyond the device's ${model.blocks} blocks (the loader should have refused it)`);
      const at = cryptCorruptionOffset(geom, this.cipher, block, where);
      const byte = await readAt(image, at, 1);
      await writeAt(image, at, Buffer.from([byte[0]! ^ 0xff]));
      model.corrupt(block, where === 'data' ? 'data' : 'tag');
    }
    this.s.note(`flipped one ${where === 'tag' ? 'auth-tag' : where} byte in blocks ${blocks.join(', ')}`);
  }

  /** dm-integrity without an internal hash verifies nothing, so its mismatch counter must stay 0. */
  private async status(i: number): Promise<void> {
    const { sb } = this.must();
    const r = await this.s.must(['dmsetup', 'status', INTEGRITY_NAME]);
    const st = parseIntegrityStatus(r.stdout.toString());
    if (st === undefined) throw new KernelFailure(`dmsetup status ${INTEGRITY_NAME}: unexpected output '${r.stdout.toString().trim()}'`);
    if (st.providedDataSectors !== sb.providedDataSectors) {
      this.s.disagree({ step: i, kind: 'status-size', expected: `${sb.providedDataSectors} provided data sectors (superblock)`, found: String(st.providedDataSectors) });
    }
    if (st.mismatches !== 0) this.s.disagree({ step: i, kind: 'mismatch-counter', expected: '0 (no internal hash under dm-crypt)', found: String(st.mismatches) });
    const c = await this.s.must(['dmsetup', 'status', CRYPT_NAME]);
    if (!new RegExp(`^0 ${sb.providedDataSectors} crypt\\b`).test(c.stdout.toString().trim())) {
      this.s.disagree({ step: i, kind: 'status-size', expected: `0 ${sb.providedDataSectors} crypt`, found: c.stdout.toString().trim() });
    }
    this.s.note(`integrity mismatches ${st.mismatches}`);
  }

  /** Every AEAD error dm-crypt logged must be for a block some read was expected to fail on. */
  private async checkAeadLog(step: number): Promise<void> {
    const { model } = this.must();
    const log = (await this.s.must(['dmesg'])).stdout.toString();
    const blocks = aeadErrorSectors(log).map((sector) => Math.floor(sector / model.sectorsPerBlock));
    const unexpected = [...new Set(blocks.filter((b) => !this.mayFail.has(b)))];
    for (const b of unexpected) {
      this.s.disagree({ step, kind: 'aead-log', block: b, sector: b * model.sectorsPerBlock, expected: 'no AEAD error (no read of it had to fail)', found: 'INTEGRITY AEAD ERROR logged' });
    }
    this.s.note(blocks.length ? `kernel logged AEAD errors for blocks ${blockList(blocks)}` : 'kernel logged no AEAD errors');
  }

  /** With the stack deactivated (journal drained), every sector of the raw disk against the model. */
  private audit(step: number): void {
    const { model } = this.must();
    let report;
    try {
      report = auditIntegrityImage(this.host(this.stack.disk), {
        verifier: cryptAeadVerifier({ cipher: this.cipher, key: this.key, sectorSize: this.stack.sectorSize }),
        expected: model,
        maxDisagreements: 100,
      });
    } catch (e) {
      if (e instanceof ModelInputError) throw new KernelFailure(`audit cannot read the disk the kernel left: ${e.message}`, { cause: e });
      throw e;
    }
    for (const d of report.disagreements) {
      this.s.disagree({ step, kind: `audit-${d.kind}`, ...(d.block !== null ? { block: d.block } : {}), ...(d.sector !== null ? { sector: d.sector } : {}),
        expected: d.expected, found: `${d.found} (image offset ${d.offset})` });
    }
    const b = report.blocks;
    this.s.note(`audit: ${b.valid} sectors decrypt, ${b.blank} never written, ${b.invalid} fail; ${report.disagreementCount} disagreement(s)`);
  }
}
