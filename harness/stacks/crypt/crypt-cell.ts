/**
 * Builds the crypt-aead stack: dm-integrity (no internal hash) formatted and opened with dmsetup tables,
 * dm-crypt AEAD on top; aead-cell.ts runs the steps and the audit. With allowDiscards the first open
 * checks that dm-integrity refuses allow_discards (model/crypt/discard.ts) and gives it only to dm-crypt.
 */
import { InfraError } from '../../errors.ts';
import { integrityTakesAllowDiscards } from '../../model/crypt/discard.ts';
import { judgeIntegrityDiscardRefusal } from './discard-judge.ts';
import { deriveCryptKey, parseCryptCipher, type CryptAeadCipher } from '../../model/crypt/cipher.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { planIntegrityFormat } from '../../model/integrity/format.ts';
import { integrityGeometry } from '../../model/integrity/geometry.ts';
import { SB_BYTES, type IntegritySuperblock } from '../../model/integrity/superblock.ts';
import { readKernelSuperblock } from '../../run/session/superblock-judge.ts';
import type { CryptAeadStack } from './crypt-schema.ts';
import { AeadCell } from './aead-cell.ts';
import { unavailableAlgorithm } from '../../run/session/guest-untested.ts';
import { KernelFailure, SkipCell } from '../../verdict/failures.ts';
import type { CellSpec, GuestSession } from '../../run/session/cell.ts';
import {
  classifyCryptCreateFailure, CRYPT_NAME, cryptoDriver, cryptTable, dmCreateArgv, dmRemoveArgv,
  FORMAT_NAME, INTEGRITY_NAME, integrityTable, targetError,
} from './crypt-stack.ts';
import type { TransferPlan } from '../../run/session/disks.ts';
import type { TableTry } from '../../scenario/schema.ts';
import { runCryptTablesStep } from './crypt-tables.ts';
import { cryptsetupFixesPadding } from '../integrity/integrity-requirements.ts';

export class CryptCell extends AeadCell {
  private readonly stack: CryptAeadStack;
  protected readonly cipher: CryptAeadCipher;
  protected readonly key: Buffer;

  constructor(spec: CellSpec, s: GuestSession, hostDisk: Map<string, string>, plan: TransferPlan) {
    super(spec, s, hostDisk, plan, { crypt: CRYPT_NAME, integrity: INTEGRITY_NAME });
    if (spec.scenario.stack.type !== 'crypt-aead') throw new InfraError(`CryptCell given a ${spec.scenario.stack.type} stack`);
    this.stack = spec.scenario.stack;
    this.cipher = parseCryptCipher(this.stack.cipher);
    this.key = this.stack.key !== undefined ? Buffer.from(this.stack.key, 'hex') : deriveCryptKey(this.cipher, spec.scenario.id);
    this.cryptDiscards = this.stack.allowDiscards;
  }

  /** A one-block dm-integrity table on the zeroed disk formats it; the superblock then says how big it is. */
  protected async format(): Promise<void> {
    const bs = this.stack.sectorSize;
    // the compatibility pass's reader takes the superblock another kernel wrote
    if (this.spec.phase !== 'read') {
      await this.s.must(dmCreateArgv(FORMAT_NAME, integrityTable({ device: this.disks.dev(this.stack.disk), sectors: bs / 512, tagSize: this.cipher.tupleSize, mode: this.stack.mode, blockSize: bs, fixPadding: this.fixPadding() })));
      await this.s.must(dmRemoveArgv(FORMAT_NAME));
    }
    const read = readKernelSuperblock(await this.s.images.readAt(this.disks.host(this.stack.disk), 0, SB_BYTES), `${this.stack.disk} superblock`);
    if ('unreadable' in read) throw new KernelFailure(`dm-integrity did not write a valid superblock: ${read.unreadable}`, { cause: read.cause });
    const { sb } = read;
    this.checkFormat(sb);
    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: false });
    this.state = { model, geom: integrityGeometry(sb), sb };
    this.s.note(`dm-integrity: ${sb.providedDataSectors} sectors, ${sb.tagSize}-byte tags, ${model.blockSize}-byte blocks, superblock v${sb.version}`);
  }

  /** The table asks for fix_padding, as cryptsetup does, where the target has it (4.13's 1.0.0 does not). */
  private fixPadding(): boolean {
    return cryptsetupFixesPadding(this.facts?.targets.get('integrity'));
  }

  /** Format drift: the superblock must be what the model predicts from the kernel's format rules. */
  private checkFormat(sb: IntegritySuperblock): void {
    const disk = this.spec.scenario.disks.find((d) => d.name === this.stack.disk)!;
    const fixPadding = this.fixPadding();
    const want = planIntegrityFormat({
      deviceSectors: disk.size / 512, tagSize: this.cipher.tupleSize, sectorsPerBlock: this.stack.sectorSize / 512,
      fixPadding, bitmapMode: this.stack.mode === 'bitmap',
    });
    this.checkSuperblock(sb, want, fixPadding ? 'table asked for fix_padding' : `integrity target ${this.facts?.targets.get('integrity') ?? '?'} has no fix_padding: legacy padding`, fixPadding);
  }

  protected async open(first: boolean): Promise<void> {
    const { sb } = this.must();
    const data = this.lowerDevice ?? this.disks.dev(this.stack.disk);
    // drop the guest's cached view of the disk: the host may have changed it while the stack was closed
    await this.s.must(['blockdev', '--flushbufs', data]);
    const integrity = (discards: boolean) => integrityTable({ device: data, sectors: sb.providedDataSectors, tagSize: this.cipher.tupleSize, mode: this.stack.mode, blockSize: this.stack.sectorSize, allowDiscards: discards, fixPadding: this.fixPadding() });
    if (first && this.stack.allowDiscards) await this.checkIntegrityDiscardRefusal(integrity(true));
    await this.s.must(dmCreateArgv(INTEGRITY_NAME, integrity(false)));
    if (first) await this.requireIntegrityProfile();
    const table = cryptTable({ sectors: sb.providedDataSectors, cipher: this.cipher, key: this.key, lower: `/dev/mapper/${INTEGRITY_NAME}`, sectorSize: this.stack.sectorSize, allowDiscards: this.stack.allowDiscards, flags: this.stack.flags });
    const r = await this.s.run(dmCreateArgv(CRYPT_NAME, table));
    if (r.exitCode !== 0) {
      const log = (await this.s.run(['dmesg'])).stdout.toString();
      const crypto = (await this.s.run(['cat', '/proc/crypto'])).stdout.toString();
      const why = classifyCryptCreateFailure(this.cipher, r.stderr.toString(), log, crypto);
      if (why.verdict === 'skip' && first) throw new SkipCell(`${why.reason}; ${await unavailableAlgorithm(this.s, this.cipher.algorithm)}`);
      throw new KernelFailure(why.reason);
    }
    await this.s.must(['dmsetup', 'mknodes']);
    this.isOpen = true;
    if (first) {
      const driver = cryptoDriver((await this.s.must(['cat', '/proc/crypto'])).stdout.toString(), this.cipher.algorithm);
      this.s.note(`${this.cipher.algorithm} by ${driver ?? '(driver not listed in /proc/crypto)'}`);
    }
  }

  /** The model says dm-integrity without an internal hash refuses allow_discards: try it (discard-judge.ts judges), and say so. */
  private async checkIntegrityDiscardRefusal(table: string): Promise<void> {
    const want = integrityTakesAllowDiscards({ internalHash: false });
    if (!want.ok) this.s.expect({ op: 'refused', why: want.error });
    const r = await this.s.run(dmCreateArgv(INTEGRITY_NAME, table));
    if (r.exitCode === 0) await this.s.must(dmRemoveArgv(INTEGRITY_NAME));
    // a failed `dmsetup create` can leave the name behind without a table
    else await this.s.run(dmRemoveArgv(INTEGRITY_NAME));
    const dmesg = r.exitCode === 0 ? undefined : (await this.s.must(['dmesg'])).stdout.toString();
    const j = judgeIntegrityDiscardRefusal(want, { exitCode: r.exitCode, stderr: r.stderr.toString() }, dmesg);
    j.disagreements.forEach((d) => this.s.disagree(d));
    if (r.exitCode !== 0) this.s.note(`dm-integrity refused allow_discards: ${j.said ?? '?'}; dm-crypt gets allow_discards alone`);
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

  protected override async tables(i: number, tables: TableTry[]): Promise<void> {
    await runCryptTablesStep({
      s: this.s, disks: this.disks, diskSizes: new Map(this.spec.scenario.disks.map((d) => [d.name, d.size])),
      nvme: new Map(this.spec.scenario.disks.flatMap((d) => (d.nvme ? [[d.name, { pi: d.nvme.pi, logicalBlockSize: d.logicalBlockSize }] as const] : []))),
      stackDisks: [this.stack.disk], kernelVersion: this.facts?.kernelVersion ?? [0], seed: this.spec.scenario.id,
      at: `${this.spec.scenario.file}: steps[${i}].tables`,
    }, i, tables);
  }

  protected async close(): Promise<void> {
    await this.s.must(dmRemoveArgv(CRYPT_NAME));
    await this.s.must(dmRemoveArgv(INTEGRITY_NAME));
    this.isOpen = false;
  }
}
