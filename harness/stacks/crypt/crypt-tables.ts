/**
 * The `tables` step of a crypt-aead scenario: raw dm-crypt tables loaded with `dmsetup create`, each judged by
 * the crypt ctr model (harness/model/crypt/ctr.ts). A table the model refuses must fail to load, leave no
 * device behind and make the kernel log the model's reason (with its errno where the line carries one). One
 * it accepts must load and show back the integrity and sector size the model says; then, unless the target
 * took a tag size it never checked, what is written through it must read back, and where the AEAD model
 * knows the cipher and its tuple, the dm-integrity disk under it must hold what the model encrypts.
 *
 * The lower devices a table names: besides integrity-tables.ts's {disk:NAME} (a virtio disk, or an NVMe
 * namespace with its metadata's profile), {disk:NAME:N}, {error:N} and {missing}, {integrity:NAME:TAG[:BLOCK[:HASH]]} is a dm-integrity device on disk NAME with TAG-byte tags and
 * BLOCK-byte blocks (512), without an internal hash (the profile dm-crypt needs) or with HASH (none). Its
 * first load formats the zeroed disk; it stays until the step ends. {key:N} is an N-byte hex key.
 */
import { createHash } from 'node:crypto';
import { isCryptAeadSpec, parseCryptCipher } from '../../model/crypt/cipher.ts';
import { expectCryptCtr, type CryptCtrOutcome, type CryptLower, type IntegrityProfile } from '../../model/crypt/ctr.ts';
import { cryptAeadVerifier } from '../../model/crypt/verifier.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { diskProfile as blockProfile, NO_PROFILE } from '../../model/integrity/profile-stack.ts';
import { SB_BYTES } from '../../model/integrity/superblock.ts';
import { cryptCtrKernel } from '../../model/crypt/ctr-kernel.ts';
import { ModelInputError } from '../../model/errors.ts';
import { planIntegrityFormat } from '../../model/integrity/format.ts';
import { InfraError, UsageError } from '../../errors.ts';
import { parseIntegrityPlaceholder, type IntegrityPlaceholder } from './integrity-placeholder.ts';
import type { TableTry } from '../../scenario/schema.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import type { CellDisks } from '../../run/session/guest-disks.ts';
import { checkRefusalLines, resolveTableArgs, TRY_NAME, type Named } from '../integrity/integrity-tables.ts';
import { judgeShownCryptTable, judgeTableLeftover, judgeTableLoad } from '../../run/session/table-judge.ts';
import { judgeImageAudit } from '../../run/session/audit-judge.ts';
import { readKernelSuperblock } from '../../run/session/superblock-judge.ts';

export interface CryptTablesContext {
  s: GuestSession;
  disks: CellDisks;
  /** declared disk name -> size in bytes */
  diskSizes: ReadonlyMap<string, number>;
  /** the NVMe disks: the profile of their 8 bytes of metadata per logical block */
  nvme: ReadonlyMap<string, { pi: 0 | 1 | 3; logicalBlockSize: number }>;
  /** disks the stack lives on: an accepted table must not write them */
  stackDisks: readonly string[];
  kernelVersion: readonly number[];
  /** the scenario's name for the crypto: the seed of keys and sector contents */
  seed: string;
  /** where the scenario is, for errors the scenario's author must fix */
  at: string;
}

/** A dm-integrity device a table's {integrity:...} names, made at first use. */
interface IntegrityHelper {
  name: string;
  table: string;
  lower: CryptLower;
}

/** The dm-integrity table of a helper: direct mode, fix_padding; the model's format plan says how much it provides. */
export function integrityHelper(p: IntegrityPlaceholder, dev: string, diskBytes: number): IntegrityHelper {
  const name = `ih-ti-${p.disk}`;
  const sb = planIntegrityFormat({ deviceSectors: diskBytes / 512, tagSize: p.tag, sectorsPerBlock: p.block / 512, fixPadding: true, internalHash: p.hash !== undefined });
  const opts = [...(p.block !== 512 ? [`block_size:${p.block}`] : []), 'fix_padding', ...(p.hash ? [`internal_hash:${p.hash}`] : [])];
  return {
    name,
    table: `0 ${sb.providedDataSectors} integrity ${dev} 0 ${p.tag} D ${opts.length} ${opts.join(' ')}\n`,
    // with an internal hash dm-integrity registers no profile (dm_integrity_ctr(): dm_integrity_set() only without one)
    lower: { sectors: sb.providedDataSectors, profile: p.hash ? undefined : { dmIntegrity: true, checksum: false, tupleSize: p.tag, tagSize: p.tag, intervalBytes: p.block } },
  };
}

/**
 * The integrity profile of a disk a table names, as the block layer registers it (model/integrity/profile-stack.ts):
 * none for a virtio disk; an NVMe namespace's 8 bytes of metadata: the no-op profile without PI (no checksum,
 * no tag bytes of its own), T10 PI's CRC guard with it. What dm-linear over an NVMe namespace registers is not
 * modelled here.
 */
function diskProfile(ctx: CryptTablesContext, d: Named, n: number): IntegrityProfile | undefined {
  const nv = d.disk !== undefined ? ctx.nvme.get(d.disk) : undefined;
  if (nv === undefined) return undefined;
  if (d.helper !== undefined) throw new UsageError(`${ctx.at}[${n}].args: dm-linear over the NVMe disk '${d.disk}' is not modelled; name the disk whole`);
  const p = blockProfile({ nvme: { pi: nv.pi }, logicalBlockSize: nv.logicalBlockSize });
  if (p === NO_PROFILE) return undefined;
  return { dmIntegrity: false, checksum: p.format !== 'nop', tupleSize: p.tupleSize, tagSize: p.tagSize, intervalBytes: p.intervalBytes };
}

/** N bytes of key, the same for every run of the scenario. */
function keyHex(seed: string, n: number): string {
  let out = Buffer.alloc(0);
  for (let i = 0; out.length < n; i++) out = Buffer.concat([out, createHash('sha256').update(`${seed}:key:${n}:${i}`).digest()]);
  return out.subarray(0, n).toString('hex');
}

export async function runCryptTablesStep(ctx: CryptTablesContext, i: number, tables: TableTry[]): Promise<void> {
  const { s } = ctx;
  const kernel = cryptCtrKernel(ctx.kernelVersion);
  /** disk -> its dm-integrity helper; `made`: the helpers loaded so far */
  const helpers = new Map<string, IntegrityHelper>();
  const made = new Set<string>();
  const refusals: Array<{ error: string; errno: string | undefined }> = [];
  let used = 0;
  for (const [n, t] of tables.entries()) {
    const lowers = new Map<string, CryptLower>();
    /** the disk under each dm-integrity helper the table names */
    const onDisk = new Map<string, string>();
    let args = t.args.replace(/\{key:(\d+)\}/g, (_m, k: string) => keyHex(ctx.seed, Number(k)));
    const wanted: IntegrityHelper[] = [];
    args = args.replace(/\{(integrity:[^}]*)\}/g, (_m, body: string) => {
      const p = parseIntegrityPlaceholder(body);
      const size = p && ctx.diskSizes.get(p.disk);
      if (!p || size === undefined) throw new InfraError(`${ctx.at}[${n}]: {${body}} (the loader should have refused it)`);
      const h = helpers.get(p.disk) ?? integrityHelper(p, ctx.disks.dev(p.disk), size);
      helpers.set(p.disk, h);
      wanted.push(h);
      lowers.set(`/dev/mapper/${h.name}`, h.lower);
      onDisk.set(`/dev/mapper/${h.name}`, p.disk);
      return `/dev/mapper/${h.name}`;
    });
    const { line, named } = resolveTableArgs(args, ctx, n);
    for (const d of named) lowers.set(d.path, { sectors: d.sectors, profile: diskProfile(ctx, d, n) });
    const touched = named.find((d) => d.disk !== undefined && ctx.stackDisks.includes(d.disk));
    if (touched) throw new UsageError(`${ctx.at}[${n}].args: disk '${touched.disk}' is the stack's; an accepted table would write it`);
    const length = t.length ?? 8;
    let want: CryptCtrOutcome;
    try {
      want = expectCryptCtr(line, { kernel, length, device: (p) => lowers.get(p) });
    } catch (e) {
      if (e instanceof ModelInputError) throw new UsageError(`${ctx.at}[${n}].args: ${e.message}`, { cause: e });
      throw e;
    }
    for (const h of wanted) {
      if (made.has(h.name)) continue;
      await s.must(['dmsetup', 'create', h.name], { stdin: Buffer.from(h.table) });
      made.add(h.name);
    }
    for (const d of named) if (d.helper) await s.must(['dmsetup', 'create', d.helper.name], { stdin: Buffer.from(d.helper.table) });
    const table = `0 ${length} crypt ${line}`;
    if (!want.ok) s.expect({ op: 'refused', why: want.error });
    const r = await s.run(['dmsetup', 'create', TRY_NAME, '--table', table]);
    judgeTableLoad(i, table, want, r.exitCode).forEach((d) => s.disagree(d));
    if (want.ok) {
      const written = await accepted(ctx, i, n, r.exitCode, length, want);
      if (written) {
        used++;
        await auditWritten(ctx, i, n, line, length, want, onDisk.get(line.trim().split(/\s+/)[3]!));
      }
    } else {
      refusals.push({ error: want.error, errno: want.errno });
      if (r.exitCode === 0) await s.must(['dmsetup', 'remove', TRY_NAME]);
    }
    for (const d of [...named].reverse()) if (d.helper) await s.must(['dmsetup', 'remove', d.helper.name]);
  }
  // a refused table that left its device fails the next table's create in dmsetup (its line missing) and this
  await leftover(s, i);
  // a step that threw leaves them to the guest's state check, which retires a guest with devices left
  for (const name of [...made].reverse()) await s.must(['dmsetup', 'remove', name]);
  if (refusals.length > 0) await checkRefusalLines(s, i, refusals, 'crypt');
  s.note(`${tables.length} table(s): ${tables.length - refusals.length} accepted (${used} written and read back), ${refusals.length} refused as the model says`);
}

async function leftover(s: GuestSession, i: number): Promise<void> {
  const left = await s.run(['dmsetup', 'info', TRY_NAME]);
  judgeTableLeftover(i, 'the refused tables', TRY_NAME, left.exitCode === 0).forEach((d) => s.disagree(d));
  if (left.exitCode === 0) await s.must(['dmsetup', 'remove', TRY_NAME]);
}

/**
 * After an AEAD table the model decrypts (one of CRYPT_AEAD_SPECS, with its tuple, iv_offset 0) wrote through a
 * dm-integrity helper, the helper's raw disk against the AEAD model: the written sectors decrypt to the
 * pattern, every other one holds no valid tuple (the helper was never wiped).
 */
async function auditWritten(ctx: CryptTablesContext, i: number, n: number, line: string, length: number, want: Extract<CryptCtrOutcome, { ok: true }>, disk: string | undefined): Promise<void> {
  const [spec, key, ivOffset] = line.trim().split(/\s+/) as [string, string, string];
  if (disk === undefined || !want.aead || !isCryptAeadSpec(spec) || ivOffset !== '0') return;
  const cipher = parseCryptCipher(spec);
  if (cipher.tupleSize !== want.tagSize || want.tupleSize !== want.tagSize) return;
  const host = ctx.disks.host(disk);
  const area = await ctx.s.images.readAt(host, 0, SB_BYTES);
  const image = await ctx.s.images.wholeImage(host);
  const unreadable = (why: string) => ctx.s.disagree({ step: i, kind: 'audit', expected: `table ${n}: a dm-integrity image the AEAD model reads`, found: why });
  const read = readKernelSuperblock(area, `${disk} superblock`);
  if ('unreadable' in read) return unreadable(read.unreadable);
  let model;
  try {
    model = new IntegrityDeviceModel({ sectorsPerBlock: 1 << read.sb.log2SectorsPerBlock, providedDataSectors: read.sb.providedDataSectors, wiped: false });
    model.write(0, roundTripData(ctx.seed, n, length * 512));
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    return unreadable(e.message);
  }
  const j = judgeImageAudit(i, image, { verifier: cryptAeadVerifier({ cipher, key: Buffer.from(key, 'hex'), sectorSize: want.sectorSize, ivOffsetSectors: 0 }), expected: model }, new Set(), { record: 10 });
  if (j.report === undefined) return unreadable(j.unreadable!.message);
  const report = j.report;
  // a helper's findings name the table and disk; the block is the helper's, no sector of the stack's
  for (const { sector: _, ...d } of j.disagreements) ctx.s.disagree({ ...d, expected: `table ${n} on ${disk}: ${d.expected}` });
  ctx.s.note(`table ${n}: ${disk} audited with ${spec}: ${report.blocks.valid} sectors decrypt, ${report.blocks.blank} never written, ${report.disagreementCount} disagreement(s)`);
}

/** What dm-crypt is given to write: the same bytes for every run of the scenario. */
function roundTripData(seed: string, n: number, bytes: number): Buffer {
  const data = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 32) createHash('sha256').update(`${seed}:sector:${n}:${off}`).digest().copy(data, off);
  return data;
}

/**
 * An accepted table: it must load and show what the model says; then one sector written through it (a
 * pattern from the host) must read back, unless the target's tag size was never checked against the device
 * (see below). Returns whether it wrote and read.
 */
async function accepted(ctx: CryptTablesContext, i: number, n: number, exitCode: number | null, length: number, want: Extract<CryptCtrOutcome, { ok: true }>): Promise<boolean> {
  const { s } = ctx;
  // judgeTableLoad has judged a load that failed; a failed `dmsetup create` can leave the name behind
  if (exitCode !== 0) {
    await s.run(['dmsetup', 'remove', TRY_NAME]);
    return false;
  }
  judgeShownCryptTable(i, (await s.must(['dmsetup', 'table', TRY_NAME])).stdout.toString(), want).forEach((d) => s.disagree(d));
  // a tag size the ctr never checked (none for a sector-derived IV; 0 for a random IV on a 6.10+ kernel, where
  // crypt_integrity_ctr() only asks that the IV fit the tuple): what I/O then does is not modelled
  const io = want.usesIntegrity ? want.tagSize > 0 : want.tagSize === 0;
  if (io) await roundTrip(ctx, i, n, length);
  await s.must(['dmsetup', 'remove', TRY_NAME]);
  return io;
}

/**
 * The whole device (the table's few sectors) written through the page cache with fsync, the guest's buffers
 * dropped, then read: the bytes written come back. The whole device, because the page cache reads a page at
 * a time and reads ahead: a sector never written has no valid tag, and reading it would fail the page.
 */
async function roundTrip(ctx: CryptTablesContext, i: number, n: number, length: number): Promise<void> {
  const { s } = ctx;
  const dev = `/dev/mapper/${TRY_NAME}`;
  const bytes = length * 512;
  if (bytes > 1 << 20) throw new UsageError(`${ctx.at}[${n}].length: an accepted table is written whole; ${length} sectors is more than 1 MiB`);
  const data = roundTripData(ctx.seed, n, bytes);
  const w = await s.run(['dd', `of=${dev}`, `bs=${bytes}`, 'count=1', 'conv=fsync'], { stdin: data });
  if (w.exitCode !== 0) {
    s.disagree({ step: i, kind: 'write-failed', expected: `table ${n}: a ${bytes}-byte write through it succeeds`, found: w.stderr.toString().trim() || `exit ${w.exitCode}` });
    return;
  }
  await s.must(['blockdev', '--flushbufs', dev]);
  const r = await s.run(['dd', `if=${dev}`, `bs=${bytes}`, 'count=1']);
  if (r.exitCode !== 0 || !r.stdout.equals(data)) {
    s.disagree({ step: i, kind: 'read-back', expected: `table ${n}: the ${bytes} bytes just written`, found: r.exitCode !== 0 ? r.stderr.toString().trim() || `exit ${r.exitCode}` : `${r.stdout.length} bytes that differ` });
  }
}
