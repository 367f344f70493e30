/**
 * The model's answer for one guest command, in the form a reproducer checks (types.ts). Built where the
 * cell asks the model anyway, before the command runs; pure.
 */
import type { IntegrityDeviceModel } from '../model/integrity/device.ts';
import type { Expectation } from './types.ts';

const HEAD = 16;
const GRAIN = 512;

/**
 * Where in the payload (the bytes every write step copied from, at their planned offsets) a block's
 * expected bytes are: the host's patterns are keystreams, so 16 bytes find a block and a compare proves it.
 */
export class PayloadIndex {
  private readonly heads = new Map<string, number>();
  private readonly parts: Array<{ offset: number; bytes: Buffer }> = [];

  add(offset: number, bytes: Buffer): void {
    this.parts.push({ offset, bytes });
    for (let o = 0; o + HEAD <= bytes.length; o += GRAIN) {
      const key = bytes.subarray(o, o + HEAD).toString('hex');
      if (!this.heads.has(key)) this.heads.set(key, offset + o);
    }
  }

  /** The payload offset holding exactly these bytes, if any. */
  locate(want: Buffer): number | undefined {
    const at = this.heads.get(want.subarray(0, HEAD).toString('hex'));
    if (at === undefined) return undefined;
    const part = this.parts.find((p) => at >= p.offset && at + want.length <= p.offset + p.bytes.length);
    return part?.bytes.subarray(at - part.offset, at - part.offset + want.length).equals(want) ? at : undefined;
  }
}

const isZero = (b: Buffer) => b.every((x) => x === 0);

/** An aligned `ih-io read` of [offset, offset+length) in I/Os of `bs` bytes. */
export function readExpectation(model: IntegrityDeviceModel, r: { offset: number; length: number; bs: number }, payload: PayloadIndex): Expectation {
  const bsz = model.blockSize;
  const fail: Array<[number, number[]]> = [];
  const blocks: Array<[number, number]> = [];
  const data: Array<[number, number, number | string]> = [];
  const push = (block: number, src: number | string) => {
    const last = data.at(-1);
    if (last !== undefined && last[0] + last[1] === block) {
      const [, count, from] = last;
      if (typeof src === 'number' && typeof from === 'number' && (src === -1 ? from === -1 : from !== -1 && from + count * bsz === src)) { last[1]++; return; }
      if (typeof src === 'string' && typeof from === 'string') { last[1]++; last[2] = from + src; return; }
    }
    data.push([block, 1, src]);
  };
  for (let off = r.offset; off < r.offset + r.length; off += r.bs) {
    const exp = model.expectRead(off / 512, r.bs);
    if (!exp.ok) fail.push([off, exp.errnos.length > 0 ? exp.errnos : [exp.errno]]);
    const failing = new Set(exp.failingBlocks);
    const n = r.bs / bsz;
    for (let b = 0; b < n; b++) {
      const block = off / bsz + b;
      if (failing.has(block)) {
        if (n > 1) blocks.push([block, model.blockExpectation(block).errno]);
        continue;
      }
      if (exp.indeterminateBlocks.includes(block)) continue;
      const want = model.expectBlockRead(block);
      if (!want.ok || want.data === undefined || want.indeterminateBlocks.includes(block)) continue;
      push(block, isZero(want.data) ? -1 : payload.locate(want.data) ?? want.data.toString('hex'));
    }
  }
  return { op: 'read', offset: r.offset, length: r.length, bs: r.bs, blockSize: bsz, fail, blocks, data };
}
