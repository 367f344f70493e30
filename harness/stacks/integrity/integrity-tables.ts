/**
 * The `tables` step: raw dm-integrity tables loaded with `dmsetup create`, each judged by the ctr model
 * (harness/model/integrity/ctr.ts). A table the model refuses must fail to load, leave no device behind and
 * make the kernel log the model's reason (with the model's errno where the line carries one); one it accepts
 * must load, serve the size the model says and, when it formatted a zeroed disk, leave the superblock the
 * model predicts. The step observes; the pure judges of harness/run/session/ (table-judge.ts,
 * superblock-judge.ts, log-judge.ts) decide. An oops or WARNING anywhere fails the cell through the console
 * scan, as in every step.
 */
import { expectCtr, type CtrDevice, type CtrOutcome } from '../../model/integrity/ctr.ts';
import { ctrKernel } from '../../model/integrity/ctr-kernel.ts';
import { SB_BYTES } from '../../model/integrity/superblock.ts';
import { ModelInputError } from '../../model/errors.ts';
import { InfraError, UsageError } from '../../errors.ts';
import type { TableTry } from '../../scenario/schema.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import type { CellDisks } from '../../run/session/guest-disks.ts';
import { judgeCtrSuperblock, judgeSuperblockKept } from '../../run/session/superblock-judge.ts';
import { judgeRefusalLog } from '../../run/session/log-judge.ts';
import { judgeShownTable, judgeTableLeftover, judgeTableLoad, judgeTableSize } from '../../run/session/table-judge.ts';

export const TRY_NAME = 'ih-try';
/** What a `crash` table leaves as it was while live: the superblock and the start of the journal (the bitmap). */
const CRASH_AREA = 64 * 1024;

export interface TablesContext {
  s: GuestSession;
  disks: CellDisks;
  /** declared disk name -> size in bytes */
  diskSizes: ReadonlyMap<string, number>;
  /** disks the stack itself lives on: an accepted table must not write them */
  stackDisks: readonly string[];
  kernelVersion: readonly number[];
  memoryMb: number;
  /** where the scenario is, for errors the scenario's author must fix */
  at: string;
}

/** A device a table names: a disk, a prefix of one through dm-linear, a dm-error device, or nothing. */
export interface Named {
  path: string;
  sectors: number;
  /** the disk whose image holds its bytes (absent: dm-error) */
  disk?: string;
  helper?: { name: string; table: string };
}

const PLACEHOLDER = /\{([^}]*)\}/g;

/** Replaces the placeholders with guest paths; dm-linear and dm-error helpers are listed to be made first. */
export function resolveTableArgs(args: string, ctx: Pick<TablesContext, 'diskSizes' | 'at'> & { disks: Pick<CellDisks, 'dev'> }, n: number): { line: string; named: Named[] } {
  const named: Named[] = [];
  let k = 0;
  const line = args.replace(PLACEHOLDER, (_m, body: string) => {
    const [kind, a, b] = body.split(':');
    if (kind === 'missing') return '/dev/ih-missing';
    if (kind === 'error') {
      const name = `ih-t${n}-${k++}`;
      named.push({ path: `/dev/mapper/${name}`, sectors: Number(a), helper: { name, table: `0 ${a} error\n` } });
      return `/dev/mapper/${name}`;
    }
    const disk = a!;
    const size = ctx.diskSizes.get(disk);
    if (size === undefined) throw new InfraError(`${ctx.at}: {${body}} names no declared disk`);
    if (b === undefined) {
      named.push({ path: ctx.disks.dev(disk), sectors: size / 512, disk });
      return ctx.disks.dev(disk);
    }
    const name = `ih-t${n}-${k++}`;
    named.push({ path: `/dev/mapper/${name}`, sectors: Number(b), disk, helper: { name, table: `0 ${b} linear ${ctx.disks.dev(disk)} 0\n` } });
    return `/dev/mapper/${name}`;
  });
  return { line, named };
}

/** The superblock areas the ctr may read: at the table's offset on its device and on its meta_device. */
async function prefetch(ctx: TablesContext, line: string, named: Named[]): Promise<Map<string, CtrDevice>> {
  const argv = line.trim().split(/\s+/);
  const start = /^\d+$/.test(argv[1] ?? '') ? Number(argv[1]) : undefined;
  const out = new Map<string, CtrDevice>();
  for (const d of named) {
    let area: Buffer | 'eio' | undefined;
    if (d.disk === undefined) area = 'eio';
    else if (start !== undefined && start + 8 <= d.sectors) area = await ctx.s.images.readAt(ctx.disks.host(d.disk), start * 512, SB_BYTES);
    out.set(d.path, {
      sectors: d.sectors,
      read: (sector) => {
        if (area === undefined || sector !== start) throw new InfraError(`the ctr model read sector ${sector} of ${d.path}, which was not fetched`);
        return area;
      },
    });
  }
  return out;
}

export async function runTablesStep(ctx: TablesContext, i: number, tables: TableTry[]): Promise<void> {
  const { s } = ctx;
  const kernel = ctrKernel(ctx.kernelVersion);
  const refusals: Array<{ error: string; errno: string | undefined }> = [];
  for (const [n, t] of tables.entries()) {
    const { line, named } = resolveTableArgs(t.args, ctx, n);
    const devices = await prefetch(ctx, line, named);
    const env = (length: number) => ({ kernel, length, device: (p: string) => devices.get(p), ramPages: ctx.memoryMb * 256 });
    let want: CtrOutcome;
    try {
      want = expectCtr(line, env(t.length ?? 8));
      if (want.ok && t.length === undefined) want = expectCtr(line, env(want.providedDataSectors));
    } catch (e) {
      if (e instanceof ModelInputError) throw new UsageError(`${ctx.at}[${n}].args: ${e.message}`, { cause: e });
      throw e;
    }
    const writes = want.ok && (want.writesSuperblock || (want.mode !== 'R' && !want.formats) || want.flags.has('recalculate'));
    const touched = named.filter((d) => d.disk !== undefined && ctx.stackDisks.includes(d.disk)).map((d) => d.disk!);
    if (writes && touched.length > 0) {
      throw new UsageError(`${ctx.at}[${n}].args: the model accepts this table and the kernel would write disk '${touched[0]}', which the stack uses; point it at another disk (or use mode R)`);
    }
    for (const d of named) if (d.helper) await s.must(['dmsetup', 'create', d.helper.name], { stdin: Buffer.from(d.helper.table) });
    const length = t.length ?? (want.ok ? want.providedDataSectors : 8);
    const table = `0 ${length} integrity ${line}`;
    const argv = line.trim().split(/\s+/);
    const sbDisk = want.ok ? named.find((d) => d.path === (want.metaDevice ?? argv[0])) : undefined;
    const sbAt = want.ok && sbDisk?.disk !== undefined ? { disk: sbDisk.disk, offset: Number(argv[1]) * 512 } : undefined;
    const sbBefore = sbAt !== undefined ? await s.images.readAt(ctx.disks.host(sbAt.disk), sbAt.offset, SB_BYTES) : undefined;
    if (!want.ok) s.expect({ op: 'refused', why: want.error });
    const r = await s.run(['dmsetup', 'create', TRY_NAME, '--table', table]);
    judgeTableLoad(i, table, want, r.exitCode).forEach((d) => s.disagree(d));
    if (want.ok) {
      if (r.exitCode === 0) await accepted(ctx, i, want, sbAt, sbBefore, t.crash);
    } else {
      refusals.push({ error: want.error, errno: want.errno });
      if (r.exitCode === 0) await s.must(['dmsetup', 'remove', TRY_NAME]);
      else {
        const left = await s.run(['dmsetup', 'info', TRY_NAME]);
        judgeTableLeftover(i, `the refused '${table}'`, TRY_NAME, left.exitCode === 0).forEach((d) => s.disagree(d));
        if (left.exitCode === 0) await s.must(['dmsetup', 'remove', TRY_NAME]);
      }
    }
    for (const d of [...named].reverse()) if (d.helper) await s.must(['dmsetup', 'remove', d.helper.name]);
  }
  if (refusals.length > 0) await checkRefusalLines(ctx.s, i, refusals, 'integrity');
  s.note(`${tables.length} table(s): ${tables.length - refusals.length} accepted, ${refusals.length} refused as the model says`);
}

/** A table that loaded as the model accepts it: it serves the model's size; a formatted superblock is the one the model predicted. */
async function accepted(ctx: TablesContext, i: number, want: Extract<CtrOutcome, { ok: true }>, sbAt: { disk: string; offset: number } | undefined, before: Buffer | undefined, crash: boolean): Promise<void> {
  const { s } = ctx;
  judgeTableSize(i, (await s.must(['dmsetup', 'status', TRY_NAME])).stdout.toString(), want).forEach((d) => s.disagree(d));
  // the table the target reports back (its STATUSTYPE_TABLE) names the mode and tag size it runs with
  judgeShownTable(i, (await s.must(['dmsetup', 'table', TRY_NAME])).stdout.toString(), want).forEach((d) => s.disagree(d));
  const live = crash && sbAt !== undefined ? await s.images.readAt(ctx.disks.host(sbAt.disk), sbAt.offset, CRASH_AREA) : undefined;
  await s.must(['dmsetup', 'remove', TRY_NAME]);
  if (live !== undefined && sbAt !== undefined) {
    await s.images.writeAt(ctx.disks.host(sbAt.disk), sbAt.offset, live);
    await s.must(['blockdev', '--flushbufs', ctx.disks.dev(sbAt.disk)]);
    s.note(`put back the ${CRASH_AREA / 1024} KiB the live target had written at ${sbAt.disk}:${sbAt.offset} (a crash)`);
  }
  if (sbAt === undefined || before === undefined) return;
  const after = live?.subarray(0, SB_BYTES) ?? await s.images.readAt(ctx.disks.host(sbAt.disk), sbAt.offset, SB_BYTES);
  if (!want.writesSuperblock) {
    if (want.mode === 'R') judgeSuperblockKept(i, before, after, 'recovery mode writes nothing').forEach((d) => s.disagree(d));
    return;
  }
  judgeCtrSuperblock(i, after, want.superblock, `${sbAt.disk} superblock`).forEach((d) => s.disagree(d));
}

/** The refusals' kernel lines in step i's dmesg (log-judge.ts judges them). */
export async function checkRefusalLines(s: GuestSession, i: number, refusals: ReadonlyArray<{ error: string; errno: string | undefined }>, target: 'integrity' | 'crypt'): Promise<void> {
  judgeRefusalLog(i, (await s.must(['dmesg'])).stdout.toString(), refusals, target).forEach((d) => s.disagree(d));
}
