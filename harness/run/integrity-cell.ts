import { parseIoReport } from '../../vm/agent/client.ts';
import { corruptionOffset } from '../model/integrity/corrupt.ts';
import { IntegrityDeviceModel, type ExpectedRead } from '../model/integrity/device.ts';
import { integrityGeometry } from '../model/integrity/geometry.ts';
import { parseIntegritySuperblock, SB_BYTES } from '../model/integrity/superblock.ts';
import { InfraError } from '../errors.ts';
import type { IntegrityStack, IoRange } from '../scenario/schema.ts';
import type { CellSpec, GuestSession } from './cell.ts';
import { KernelFailure, SkipCell } from './cell.ts';
import { ioSize, readAt, writeAt, type TransferPlan } from './disks.ts';
import {
  integrityCloseArgv, integrityFormatArgv, integrityOpenArgv, parseIntegrityStatus,
} from './integrity-stack.ts';
import { pattern } from './pattern.ts';
import type { CrashContext } from './crash-record.ts';
import { runCrashStep } from './crash-step.ts';

const NAME = 'ih-int';
const TOP = `/dev/mapper/${NAME}`;

/**
 * Mismatch-counter bookkeeping since the last open. A failing single-block read increments the counter
 * exactly once; a failing multi-block I/O at least once (bios may be split), so the count may be a range.
 */
interface MismatchWindow {
  min: number;
  max: number;
}

/** Runs an integrity scenario: builds the stack with integritysetup, moves bytes, judges with the model. */
export class IntegrityCell {
  private readonly stack: IntegrityStack;
  private model: IntegrityDeviceModel | undefined;
  private guestDisk = new Map<string, string>();
  private mismatches: MismatchWindow = { min: 0, max: 0 };

  constructor(
    private readonly spec: CellSpec,
    private readonly s: GuestSession,
    private readonly hostDisk: Map<string, string>,
    private readonly plan: TransferPlan,
  ) {
    if (spec.scenario.stack.type !== 'integrity') throw new InfraError(`IntegrityCell given a ${spec.scenario.stack.type} stack`);
    this.stack = spec.scenario.stack;
  }

  async run(): Promise<void> {
    await this.s.begin(-1, 'setup');
    await this.mapDisks();
    await this.checkRequirements();
    await this.writePayload();
    if (this.stack.key) await this.s.must(['cp', '/dev/stdin', '/tmp/ih-integrity.key'], { stdin: Buffer.from(this.stack.key, 'hex') });
    await this.s.must(integrityFormatArgv(this.stack, this.dev('data')));
    await this.open();
    const sb = parseIntegritySuperblock(await readAt(this.host(this.stack.disk), 0, SB_BYTES), `${this.stack.disk} superblock`);
    this.model = new IntegrityDeviceModel({
      sectorsPerBlock: 1 << sb.log2SectorsPerBlock, providedDataSectors: sb.providedDataSectors, allowDiscards: this.stack.allowDiscards,
    });
    for (const [i, step] of this.spec.scenario.steps.entries()) {
      if (step === 'open') { await this.s.begin(i, 'open'); await this.open(); }
      else if (step === 'close') { await this.s.begin(i, 'close'); await this.s.must(integrityCloseArgv(NAME)); }
      else if (step === 'status') { await this.s.begin(i, 'status'); await this.status(i); }
      else if ('write' in step) { await this.s.begin(i, 'write'); await this.write(i, step.write); }
      else if ('read' in step) { await this.s.begin(i, 'read'); await this.read(i, step.read); }
      else if ('corrupt' in step) { await this.s.begin(i, 'corrupt'); await this.corrupt(step.corrupt.blocks, step.corrupt.where); }
      else if ('crash' in step) { await this.s.begin(i, 'crash'); await runCrashStep(this.crashContext(i, step.crash.log), step.crash); }
    }
    await this.s.begin(this.spec.scenario.steps.length, 'teardown');
    const last = this.spec.scenario.steps.at(-1);
    if (last !== 'close') await this.s.must(integrityCloseArgv(NAME));
  }

  private crashContext(i: number, log: string): CrashContext {
    const model = this.modelOrThrow();
    const old = Buffer.alloc(model.blocks * model.blockSize);
    for (let b = 0; b < model.blocks; b++) model.expectBlockRead(b).data?.copy(old, b * model.blockSize);
    const disk = (role: string) => ({ guest: this.dev(role), host: this.host(role) });
    return {
      session: this.s, stack: this.stack, name: NAME, at: `steps[${i}].crash`, stepIndex: i, seed: `${this.spec.scenario.id}#${i}`,
      data: { ...disk(this.stack.disk), size: this.spec.scenario.disks.find((d) => d.name === this.stack.disk)!.size },
      log: disk(log), payload: { ...disk('payload'), offset: this.plan.offsets.get(i)! }, out: disk('out'),
      blockSize: model.blockSize, old, dir: this.spec.dir,
    };
  }

  private host(role: string): string {
    const p = this.hostDisk.get(role);
    if (p === undefined) throw new InfraError(`no host image for disk '${role}'`);
    return p;
  }

  private dev(role: string): string {
    const d = this.guestDisk.get(role === 'data' ? this.stack.disk : role);
    if (d === undefined) throw new InfraError(`guest has no disk with serial ih-${role}`);
    return d;
  }

  /** Finds each disk by its virtio serial, so a change in PCI enumeration order cannot swap them. */
  private async mapDisks(): Promise<void> {
    const ls = await this.s.must(['ls', '/sys/block']);
    for (const name of ls.stdout.toString().split(/\s+/).filter((n) => /^vd[a-z]+$/.test(n))) {
      const r = await this.s.run(['cat', `/sys/block/${name}/serial`]);
      const serial = r.stdout.toString().trim();
      if (serial.startsWith('ih-')) this.guestDisk.set(serial.slice(3), `/dev/${name}`);
    }
    for (const role of this.hostDisk.keys()) {
      if (!this.guestDisk.has(role)) throw new InfraError(`guest has no virtio disk with serial ih-${role} (found: ${[...this.guestDisk.keys()].join(', ') || 'none'})`);
    }
  }

  /** Device-mapper targets the scenario needs: missing ones make the cell `skip`, not `fail`. */
  private async checkRequirements(): Promise<void> {
    const r = await this.s.must(['dmsetup', 'targets']);
    const have = new Set(r.stdout.toString().split('\n').map((l) => l.split(/\s+/)[0]));
    const need = [...new Set(['integrity', ...this.spec.scenario.requires.targets])];
    const missing = need.filter((t) => !have.has(t));
    if (missing.length > 0) throw new SkipCell(`kernel lacks device-mapper target(s): ${missing.join(', ')}`);
  }

  /** The host generates every byte the guest will write, onto the payload disk, before any step runs. */
  private async writePayload(): Promise<void> {
    for (const [i, step] of this.spec.scenario.steps.entries()) {
      if (typeof step === 'string' || !('write' in step)) continue;
      await writeAt(this.host('payload'), this.plan.offsets.get(i)!, this.patternFor(i, step.write));
    }
  }

  private patternFor(step: number, r: IoRange): Buffer {
    return pattern(`${this.spec.scenario.id}#${step}`, 0, r.length);
  }

  private async open(): Promise<void> {
    await this.s.must(['blockdev', '--flushbufs', this.dev('data')]);
    await this.s.must(integrityOpenArgv(this.stack, this.dev('data'), NAME));
    await this.s.must(['dmsetup', 'mknodes', NAME]);
    this.mismatches = { min: 0, max: 0 };
  }

  private modelOrThrow(): IntegrityDeviceModel {
    if (this.model === undefined) throw new InfraError('model used before the stack was formatted');
    return this.model;
  }

  private async write(i: number, r: IoRange): Promise<void> {
    const model = this.modelOrThrow();
    const bs = ioSize(r, model.blockSize);
    const res = await this.s.run(['ih-io', 'copy', '--src', this.dev('payload'), '--src-offset', String(this.plan.offsets.get(i)),
      '--dst', TOP, '--dst-offset', String(r.offset), '--length', String(r.length), '--bs', String(bs), '--block', String(model.blockSize)]);
    if (res.exitCode === 2 || res.exitCode === 3) throw new InfraError(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    const failed = parseIoReport(res.stdout).ios.filter((l) => l.op === 'write' && !l.ok);
    for (const f of failed) {
      this.s.disagree({ step: i, kind: 'write-failed', sector: f.off / 512, expected: 'write succeeds', found: `errno ${f.errno} (${f.error ?? '?'})` });
    }
    if (res.exitCode !== 0 && failed.length === 0) throw new KernelFailure(`ih-io copy exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    model.write(r.offset / 512, this.patternFor(i, r));
  }

  private async read(i: number, r: IoRange): Promise<void> {
    const model = this.modelOrThrow();
    const bs = ioSize(r, model.blockSize);
    const outOff = this.plan.offsets.get(i)!;
    const res = await this.s.run(['ih-io', 'read', '--dev', TOP, '--offset', String(r.offset), '--length', String(r.length),
      '--bs', String(bs), '--block', String(model.blockSize), '--out', this.dev('out'), '--out-offset', String(outOff), '--log-ok']);
    if (res.exitCode === 2 || res.exitCode === 3) throw new InfraError(`ih-io read exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    const report = parseIoReport(res.stdout);
    const ios = new Map(report.ios.filter((l) => l.op === 'read').map((l) => [l.off, l]));
    const blocks = new Map(report.blocks.map((l) => [l.off, l]));
    const got = await readAt(this.host('out'), outOff, r.length);
    for (let off = r.offset; off < r.offset + r.length; off += bs) {
      const exp = model.expectRead(off / 512, bs);
      const io = ios.get(off);
      if (io === undefined) throw new InfraError(`ih-io read reported nothing for offset ${off}`);
      if (!io.ok && io.errno === 0) throw new KernelFailure(`short read at offset ${off} of ${TOP} (${io.error ?? 'EOF'})`);
      this.judgeIo(i, off, bs, exp, io.errno, blocks, got.subarray(off - r.offset, off - r.offset + bs));
    }
  }

  private judgeIo(i: number, off: number, bs: number, exp: ExpectedRead, errno: number, blocks: Map<number, { errno: number }>, got: Buffer): void {
    const model = this.modelOrThrow();
    const bsz = model.blockSize;
    const firstBlock = off / bsz;
    const failing = new Set(exp.failingBlocks);
    if (exp.ok && errno !== 0) {
      this.s.disagree({ step: i, kind: 'false-alarm', block: firstBlock, sector: off / 512, expected: `${bs} bytes read`, found: `errno ${errno}` });
    } else if (!exp.ok && errno === 0) {
      this.s.disagree({ step: i, kind: 'silent-acceptance', block: exp.failingBlocks[0], sector: exp.failingBlocks[0]! * (bsz / 512), expected: `errno ${exp.errno} (blocks ${exp.failingBlocks.join(', ')})`, found: 'read succeeded' });
    } else if (!exp.ok && errno !== exp.errno) {
      this.s.disagree({ step: i, kind: 'wrong-errno', block: firstBlock, sector: off / 512, expected: `errno ${exp.errno}`, found: `errno ${errno}` });
    }
    if (!exp.ok && errno !== 0) {
      // Count what the kernel saw: one event per failing single-block read, 1..k for a multi-block one.
      const nBlocks = bs / bsz;
      if (nBlocks === 1) { this.mismatches.min += 1; this.mismatches.max += 1; }
      else { this.mismatches.min += 1; this.mismatches.max += failing.size; }
    }
    for (let b = 0; b < bs / bsz; b++) {
      const block = firstBlock + b;
      const bOff = off + b * bsz;
      const perBlock = errno === 0 || bs === bsz ? errno : blocks.get(bOff)?.errno ?? 0;
      if (errno !== 0 && bs !== bsz && perBlock !== 0) { this.mismatches.min += 1; this.mismatches.max += 1; }
      const mustFail = failing.has(block);
      if (errno !== 0 && bs !== bsz && mustFail !== (perBlock !== 0)) {
        this.s.disagree({ step: i, kind: mustFail ? 'silent-acceptance' : 'false-alarm', block, sector: bOff / 512,
          expected: mustFail ? `errno ${exp.errno}` : 'block reads', found: perBlock !== 0 ? `errno ${perBlock}` : 'block read' });
      }
      if (perBlock !== 0 || mustFail || exp.indeterminateBlocks.includes(block)) continue;
      const want = model.expectBlockRead(block).data!;
      const seen = got.subarray(b * bsz, (b + 1) * bsz);
      if (!seen.equals(want)) {
        const at = firstDiff(seen, want);
        this.s.disagree({ step: i, kind: 'data-mismatch', block, sector: bOff / 512,
          expected: `byte ${at} = 0x${hex(want[at])}`, found: `0x${hex(seen[at])}` });
      }
    }
  }

  private async corrupt(blocks: number[], where: 'data' | 'tag'): Promise<void> {
    const model = this.modelOrThrow();
    const image = this.host(this.stack.disk);
    const sb = parseIntegritySuperblock(await readAt(image, 0, SB_BYTES), `${this.stack.disk} superblock`);
    const geom = integrityGeometry(sb);
    for (const block of blocks) {
      if (block >= model.blocks) throw new KernelFailure(`corrupt: block ${block} is beyond the device's ${model.blocks} blocks`);
      const at = corruptionOffset(geom, block, where);
      const byte = await readAt(image, at, 1);
      await writeAt(image, at, Buffer.from([byte[0]! ^ 0xff]));
      model.corrupt(block, where);
    }
    this.s.note(`flipped one ${where} byte in blocks ${blocks.join(', ')}`);
  }

  private async status(i: number): Promise<void> {
    const r = await this.s.must(['dmsetup', 'status', NAME]);
    const st = parseIntegrityStatus(r.stdout.toString());
    if (st === undefined) throw new KernelFailure(`dmsetup status ${NAME}: unexpected output '${r.stdout.toString().trim()}'`);
    const model = this.modelOrThrow();
    if (st.providedDataSectors !== model.providedDataSectors) {
      this.s.disagree({ step: i, kind: 'status-size', expected: `${model.providedDataSectors} provided data sectors (superblock)`, found: String(st.providedDataSectors) });
    }
    const { min, max } = this.mismatches;
    if (st.mismatches < min || st.mismatches > max) {
      this.s.disagree({ step: i, kind: 'mismatch-counter', expected: min === max ? String(min) : `${min}..${max}`, found: String(st.mismatches) });
    }
    this.s.note(`mismatches ${st.mismatches} (model ${min === max ? min : `${min}..${max}`})`);
  }
}

function firstDiff(a: Buffer, b: Buffer): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

const hex = (n: number | undefined) => (n ?? 0).toString(16).padStart(2, '0');
