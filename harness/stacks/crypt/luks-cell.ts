/**
 * Builds the luks2 stack with the real tool: `cryptsetup luksFormat --integrity` with a volume key from the
 * scenario, `cryptsetup open` / `close`; aead-cell.ts runs the steps and the audit. The model follows the
 * stack from the raw disk alone: the LUKS2 header (read on the host) gives the data offset, cipher and
 * sector size, dm-integrity's superblock at that offset gives the geometry, and the volume key decrypts.
 * Without --integrity-no-wipe cryptsetup wrote every sector once (all read as zeros); with it, a sector
 * never written has no valid tuple and fails (device.ts, `wiped`).
 */
import { cryptsetupFixesPadding } from '../integrity/integrity-requirements.ts';
import { InfraError, tail } from '../../errors.ts';
import { deriveCryptKey, type CryptAeadCipher } from '../../model/crypt/cipher.ts';
import { LUKS2_DISCARD_REFUSAL } from '../../model/crypt/discard.ts';
import { judgeLuksDiscardRefusal } from './discard-judge.ts';
import { ModelInputError } from '../../model/errors.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { integrityGeometry } from '../../model/integrity/geometry.ts';
import { parseIntegritySuperblock, SB_BYTES, type IntegritySuperblock } from '../../model/integrity/superblock.ts';
import { planLuks2Integrity } from '../../model/luks2/format.ts';
import { parseLuks2Header } from '../../model/luks2/header.ts';
import {
  luks2DataSegment, luks2FormatCipher, luks2SegmentCipher, type Luks2DataSegment,
} from '../../model/luks2/segment.ts';
import type { Luks2Stack } from './luks-schema.ts';
import { AeadCell } from './aead-cell.ts';
import { unavailableAlgorithm } from '../../run/session/guest-untested.ts';
import { KernelFailure, SkipCell } from '../../verdict/failures.ts';
import type { CellSpec, GuestSession } from '../../run/session/cell.ts';
import type { TransferPlan } from '../../run/session/disks.ts';
import {
  LUKS_INTEGRITY_NAME, LUKS_NAME, luksCloseArgv, luksFormatArgv, luksOpenArgv, judgeLuksSegment, judgeLuksTables, parseDmTable, PASSPHRASE_FILE, VOLUME_KEY_FILE,
} from './luks-stack.ts';

/** 2 x 16 KiB header copies are all cryptsetup writes by default; the parser finds larger ones too */
const HEADER_READ_BYTES = 2 * 4 * 1024 * 1024;

export class LuksCell extends AeadCell {
  private readonly stack: Luks2Stack;
  protected readonly cipher: CryptAeadCipher;
  protected readonly key: Buffer;
  private segment: Luks2DataSegment | undefined;

  constructor(spec: CellSpec, s: GuestSession, hostDisk: Map<string, string>, plan: TransferPlan) {
    super(spec, s, hostDisk, plan, { crypt: LUKS_NAME, integrity: LUKS_INTEGRITY_NAME });
    if (spec.scenario.stack.type !== 'luks2') throw new InfraError(`LuksCell given a ${spec.scenario.stack.type} stack`);
    this.stack = spec.scenario.stack;
    const c = luks2FormatCipher(this.stack.cipher, this.stack.integrity);
    if (c === undefined) throw new InfraError(`no model for --cipher ${this.stack.cipher} --integrity ${this.stack.integrity} (the loader should have refused it)`);
    this.cipher = c;
    this.key = this.stack.volumeKey !== undefined ? Buffer.from(this.stack.volumeKey, 'hex') : deriveCryptKey(c, spec.scenario.id);
  }

  protected override async prepare(): Promise<void> {
    await this.s.must(['tee', VOLUME_KEY_FILE], { stdin: this.key });
    await this.s.must(['tee', PASSPHRASE_FILE], { stdin: Buffer.from(`ih-luks ${this.spec.scenario.id}`) });
  }

  /**
   * Both header copies: 2 x hdr_size as the primary's binary header gives it (32 KiB as cryptsetup writes
   * it, small enough to keep as an observation), or the largest area the format allows when it names none.
   */
  private async readHeaderArea(image: string): Promise<Buffer> {
    const hdrSize = Number((await this.s.images.readAt(image, 0, 16)).readBigUInt64BE(8));
    const size = hdrSize >= 16 * 1024 && 2 * hdrSize <= HEADER_READ_BYTES ? 2 * hdrSize : HEADER_READ_BYTES;
    return this.s.images.readAt(image, 0, size);
  }

  protected async format(): Promise<void> {
    // the compatibility pass's reader takes the header another kernel's cryptsetup wrote
    if (this.spec.phase !== 'read') await this.luksFormat();
    const image = this.disks.host(this.stack.disk);
    let seg: Luks2DataSegment;
    let sb: IntegritySuperblock;
    try {
      const header = parseLuks2Header(await this.readHeaderArea(image), `${this.stack.disk} LUKS2 header`);
      seg = luks2DataSegment(header.active.json, `${this.stack.disk} LUKS2 header`);
      this.checkSegment(seg);
      // the model decrypts with what the header says, not with what the scenario asked for
      const c = luks2SegmentCipher(seg);
      if (c.spec !== this.cipher.spec) throw new ModelInputError(`header cipher ${seg.encryption} + ${seg.integrity} is ${c.spec}, the scenario's is ${this.cipher.spec}`);
      if (seg.ivTweak !== 0) throw new ModelInputError(`iv_tweak ${seg.ivTweak}: a fresh luksFormat writes 0, the model does not follow others`);
      sb = parseIntegritySuperblock(await this.s.images.readAt(image, seg.offset, SB_BYTES), `${this.stack.disk} dm-integrity superblock at ${seg.offset}`);
    } catch (e) {
      if (e instanceof ModelInputError) throw new KernelFailure(`luksFormat left a disk the model cannot read: ${e.message}`, { cause: e });
      throw e;
    }
    this.segment = seg;
    this.startSector = seg.offset / 512;
    this.ivOffset = seg.ivTweak;
    this.checkFormat(sb);
    const model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, wiped: !this.stack.integrityNoWipe });
    this.state = { model, geom: integrityGeometry(sb, { startSector: this.startSector }), sb };
    this.s.note(`LUKS2 segment at ${seg.offset}: ${seg.encryption} + ${seg.integrity}, ${seg.sectorSize}-byte sectors, ${seg.volumeKeyBytes}-byte key; `
      + `dm-integrity: ${sb.providedDataSectors} sectors, ${sb.tagSize}-byte tags, superblock v${sb.version}; ${model.wiped ? 'wiped' : 'not wiped'}`);
  }

  private async luksFormat(): Promise<void> {
    const r = await this.s.run(luksFormatArgv(this.stack, this.cipher, this.key.length, this.disks.dev(this.stack.disk)));
    if (r.exitCode !== 0) {
      const said = tail(r.stderr.toString() || r.stdout.toString(), 3);
      // cryptsetup checks the cipher through the kernel's crypto API before writing anything
      // (skip when the kernel lacks a piece of the algorithm; unavailableAlgorithm throws when it has them all)
      if (/is not available/.test(said)) throw new SkipCell(`cryptsetup luksFormat: ${said}; ${await unavailableAlgorithm(this.s, this.cipher.algorithm)}`);
      throw new KernelFailure(`cryptsetup luksFormat exited ${r.exitCode}: ${said}`);
    }
  }

  /** Format drift in the header: what luksFormat was asked for must be what it wrote. */
  private checkSegment(seg: Luks2DataSegment): void {
    judgeLuksSegment(seg, this.stack, this.key.length).forEach((d) => this.s.disagree(d));
  }

  /** Format drift in dm-integrity: the superblock must be what the kernel's defaults give at that offset. */
  private checkFormat(sb: IntegritySuperblock): void {
    const disk = this.spec.scenario.disks.find((x) => x.name === this.stack.disk)!;
    // cryptsetup asks for fix_padding only where the target has it (a 4.19 kernel's 1.2.0 does not)
    const target = this.facts?.targets.get('integrity');
    const padded = cryptsetupFixesPadding(target);
    const want = planLuks2Integrity({ diskBytes: disk.size, tagSize: this.cipher.tupleSize, sectorSize: this.stack.sectorSize, dataOffset: this.startSector * 512, fixPadding: padded });
    this.checkSuperblock(sb, want, `cryptsetup ${padded ? 'asks for' : 'cannot ask for'} fix_padding on integrity target ${target ?? '?'}`, padded);
  }

  protected async open(first: boolean): Promise<void> {
    const disk = this.lowerDevice ?? this.disks.dev(this.stack.disk);
    await this.s.must(['blockdev', '--flushbufs', disk]);
    if (first && this.stack.allowDiscards) await this.checkDiscardRefusal(disk);
    await this.s.must(luksOpenArgv(disk));
    this.isOpen = true;
    if (first) await this.checkTables();
  }

  /** cryptsetup refuses --allow-discards for integrity devices (model/crypt/discard.ts, discard-judge.ts judges); nothing is left open. */
  private async checkDiscardRefusal(disk: string): Promise<void> {
    this.s.expect({ op: 'refused', why: LUKS2_DISCARD_REFUSAL });
    const r = await this.s.run(luksOpenArgv(disk, true));
    if (r.exitCode === 0) await this.s.must(luksCloseArgv());
    const j = judgeLuksDiscardRefusal(LUKS2_DISCARD_REFUSAL, { exitCode: r.exitCode, stderr: r.stderr.toString() });
    j.disagreements.forEach((d) => this.s.disagree(d));
    this.s.note(`open --allow-discards: exit ${r.exitCode}, ${j.said}`);
  }

  /** The tables cryptsetup loaded are the stack the model decrypts: cipher, offsets, tag and sector size. */
  private async checkTables(): Promise<void> {
    const { sb } = this.must();
    const seg = this.segment!;
    const crypt = (await this.s.must(['dmsetup', 'table', LUKS_NAME])).stdout.toString();
    const integrity = (await this.s.must(['dmsetup', 'table', LUKS_INTEGRITY_NAME])).stdout.toString();
    const found = judgeLuksTables(crypt, integrity, {
      cipher: this.cipher, keyBytes: this.key.length, ivOffset: seg.ivTweak, sectorSize: seg.sectorSize,
      sectors: sb.providedDataSectors, dataOffsetSectors: seg.offset / 512,
    });
    found.forEach((d) => this.s.disagree(d));
    this.s.note(`tables: ${parseDmTable(crypt)[0]?.args[0]} integrity:${this.cipher.tupleSize}:aead on ${LUKS_INTEGRITY_NAME} at ${seg.offset / 512}; ${found.length} difference(s)`);
  }

  protected async close(): Promise<void> {
    await this.s.must(luksCloseArgv());
    this.isOpen = false;
  }
}
