/**
 * Host-side faults on the raw images of a closed dm-integrity stack. Every offset comes from the model
 * (corrupt.ts); `targetOf` can be replaced to prove that a wrong offset is noticed.
 */
import {
  corruptionTarget, journalCorruptionTarget, superblockCorruptionTarget, type SuperblockField,
} from '../../model/integrity/corrupt.ts';
import { InfraError } from '../../errors.ts';
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import type { HostFault } from '../../scenario/schema.ts';
import type { HostImages } from '../../run/session/host-images.ts';
import type { HostOp } from '../../repro/types.ts';

export type CorruptionTargetFn = typeof corruptionTarget;

export interface FaultContext {
  geom: IntegrityGeometry;
  model: IntegrityDeviceModel;
  /** host image paths */
  images: { data: string; meta?: string };
  /** how the host reads and writes them (the session's, which observes every access) */
  io: HostImages;
  /** the scenario's names of those disks, for the record of what changed (default: data, meta) */
  roles?: { data: string; meta: string };
  targetOf?: CorruptionTargetFn;
}

/** A byte the host changed, so the audit can undo a superblock fault the kernel must refuse. */
export interface FlippedByte {
  image: 'data' | 'meta';
  offset: number;
  original: number;
}

function imagePath(ctx: FaultContext, image: 'data' | 'meta'): string {
  const p = image === 'meta' ? ctx.images.meta : ctx.images.data;
  if (p === undefined) throw new Error(`the model named the ${image} image, but the stack has none`);
  return p;
}

async function flip(ctx: FaultContext, image: 'data' | 'meta', offset: number): Promise<FlippedByte> {
  const path = imagePath(ctx, image);
  const [original] = await ctx.io.readAt(path, offset, 1);
  await ctx.io.writeAt(path, offset, Buffer.from([original! ^ 0xff]));
  return { image, offset, original: original! };
}

/** Applies one fault step to the images and tells the model; returns the bytes changed, the operations, and a note. */
export async function applyFault(ctx: FaultContext, f: HostFault): Promise<{ flipped: FlippedByte[]; ops: HostOp[]; note: string }> {
  const r = await applyFaultOnly(ctx, f);
  const disk = (image: 'data' | 'meta') => ctx.roles?.[image] ?? image;
  const at = (p: { image: 'data' | 'meta'; offset: number }) => ({ disk: disk(p.image), offset: p.offset });
  const ops: HostOp[] = r.swapped?.map((w) => ({ op: 'swap', a: at(w.a), b: at(w.b), length: w.length }))
    ?? r.flipped.map((b) => ({ op: 'flip', ...at(b) }));
  return { flipped: r.flipped, ops, note: r.note };
}

interface Swapped {
  a: { image: 'data' | 'meta'; offset: number };
  b: { image: 'data' | 'meta'; offset: number };
  length: number;
}

async function applyFaultOnly(ctx: FaultContext, f: HostFault): Promise<{ flipped: FlippedByte[]; swapped?: Swapped[]; note: string }> {
  const targetOf = ctx.targetOf ?? corruptionTarget;
  if ('corrupt' in f) {
    const c = f.corrupt;
    const where = c.where;
    if (where === 'iv') throw new InfraError("corrupt.where 'iv' reached an integrity stack (the loader refuses it)");
    const flipped: FlippedByte[] = [];
    for (const block of c.blocks) {
      const t = targetOf(ctx.geom, block, where, c.byte);
      flipped.push(await flip(ctx, t.image, t.offset));
      ctx.model.corrupt(block, where, c.byte);
    }
    return { flipped, note: `flipped one ${c.where} byte in blocks ${c.blocks.join(', ')}` };
  }
  if ('swap' in f) {
    const [a, b] = f.swap.blocks;
    const swapped: Swapped[] = [];
    for (const where of ['data', 'tag'] as const) {
      const ta = targetOf(ctx.geom, a, where);
      const tb = targetOf(ctx.geom, b, where);
      const len = where === 'data' ? ctx.geom.blockSize : ctx.geom.tagSize;
      const [pa, pb] = [imagePath(ctx, ta.image), imagePath(ctx, tb.image)];
      const [da, db] = [await ctx.io.readAt(pa, ta.offset, len), await ctx.io.readAt(pb, tb.offset, len)];
      await ctx.io.writeAt(pa, ta.offset, db);
      await ctx.io.writeAt(pb, tb.offset, da);
      swapped.push({ a: { image: ta.image, offset: ta.offset }, b: { image: tb.image, offset: tb.offset }, length: len });
    }
    ctx.model.swap(a, b);
    return { flipped: [], swapped, note: `swapped blocks ${a} and ${b} with their tags` };
  }
  if ('corruptSuperblock' in f) {
    const field: SuperblockField = f.corruptSuperblock.field;
    const t = superblockCorruptionTarget(ctx.geom, field);
    return { flipped: [await flip(ctx, t.image, t.offset)], note: `flipped the superblock's ${field} byte at ${t.image}:${t.offset}` };
  }
  const where = f.corruptJournal.where;
  const t = journalCorruptionTarget(ctx.geom, where);
  const flipped = [await flip(ctx, t.image, t.offset)];
  ctx.model.corruptJournal(where);
  return { flipped, note: `flipped a journal ${where} byte at ${t.image}:${t.offset}` };
}

/** Data-device sector ranges holding the given blocks' data (where dm-error goes for an ioError step). */
export function dataSectorRanges(geom: IntegrityGeometry, blocks: number[]): Array<{ start: number; length: number }> {
  return blocks.map((b) => ({ start: geom.dataByteOffset(b * geom.sectorsPerBlock) / 512, length: geom.sectorsPerBlock }));
}
