/**
 * The host's reads and writes of a cell's raw disk images, as observations: a cell reads superblocks and
 * read-back blocks and flips bytes through this, and every access lands in observations.jsonl (what a replay
 * against the current model needs, harness/rejudge/). The payload disk's bytes are the host's own plan, so
 * they go to disks.ts directly; a crash step's whole images (its log, the image of each crash point) are
 * too large to keep, and its read-backs too large to keep block by block, so the step records what it saw
 * of them as host work (hostWork).
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { readAt, writeAt } from './disks.ts';
import type { Observation, ObservedBlock } from './observations.ts';

/** Reads up to this size keep their bytes (superblocks, LUKS2 headers, single bytes); larger ones a digest. */
export const KEEP_BYTES = 64 * 1024;
/** A read keeps the bytes of at most this many blocks that differ from the model: enough to show a fault. */
export const KEEP_DIFFERING_BLOCKS = 16;

export interface HostImages {
  readAt(path: string, offset: number, length: number): Promise<Buffer>;
  writeAt(path: string, offset: number, data: Buffer): Promise<void>;
  /**
   * A read's output, block by block. `expected(i)` is what the model expects of the i-th block (undefined:
   * anything may be there): the bytes of a block that differs are kept, so a report can show them.
   */
  readBlocks(path: string, offset: number, length: number, blockSize: number, expected: (i: number) => Buffer | undefined): Promise<ObservedBlock[]>;
  /** The file the raw-disk audit reads whole (too large to observe byte for byte: a replay needs it kept). */
  wholeImage(path: string): Promise<string>;
  /**
   * Host work on what a run does not keep (a crash step's log, the image at each crash point, its read-back): live, `work`
   * runs and what it returns is recorded as observation `t`; a replay gives back the run's record and runs nothing.
   */
  hostWork<K extends HostWorkKind>(t: K, work: () => Promise<HostWork<K>>): Promise<HostWork<K>>;
}

export type HostWorkKind = 'crash-base' | 'crash-log' | 'crash-readback' | 'crash-audit';
/** What host work `K` recorded, without its kind and step. */
export type HostWork<K extends HostWorkKind> = Omit<Extract<Observation, { t: K }>, 't' | 'step'>;

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A read-back block's digest: sha256 cut to 128 bits, which tells blocks apart and halves a large read's record. */
export const blockDigest = (b: Buffer): string => sha256(b).slice(0, 32);

type Unstepped<T> = T extends { step: number } ? Omit<T, 'step'> : never;
export type ImageObservation = Unstepped<Extract<Observation, { t: 'image-read' | 'image-write' | 'blocks' | 'image-audit' | HostWorkKind }>>;

/** The live images: real files, each access recorded under the image's disk name. */
export class RecordingImages implements HostImages {
  constructor(
    private readonly roles: ReadonlyMap<string, string>,
    private readonly record: (o: ImageObservation) => void,
  ) {}

  /** The scenario's name for the image at path (payload, out, data...), so a replay can find a kept copy. */
  name(path: string): string {
    for (const [role, p] of this.roles) if (p === path) return role;
    return basename(path).replace(/\.img$/, '');
  }

  async readAt(path: string, offset: number, length: number): Promise<Buffer> {
    const bytes = await readAt(path, offset, length);
    this.record({
      t: 'image-read', image: this.name(path), offset, length, sha256: sha256(bytes),
      ...(length <= KEEP_BYTES ? { hex: bytes.toString('hex') } : {}),
    });
    return bytes;
  }

  async writeAt(path: string, offset: number, data: Buffer): Promise<void> {
    await writeAt(path, offset, data);
    this.record({ t: 'image-write', image: this.name(path), offset, length: data.length, sha256: sha256(data) });
  }

  async readBlocks(path: string, offset: number, length: number, blockSize: number, expected: (i: number) => Buffer | undefined): Promise<ObservedBlock[]> {
    const bytes = await readAt(path, offset, length);
    const blocks: ObservedBlock[] = [];
    let kept = 0;
    for (let i = 0; i * blockSize < length; i++) {
      const block = bytes.subarray(i * blockSize, Math.min(length, (i + 1) * blockSize));
      const want = expected(i);
      const keep = want !== undefined && !block.equals(want) && kept++ < KEEP_DIFFERING_BLOCKS;
      blocks.push({ sha256: blockDigest(block), ...(keep ? { hex: block.toString('hex') } : {}) });
    }
    this.record({ t: 'blocks', image: this.name(path), offset, blockSize, blocks });
    return blocks;
  }

  async wholeImage(path: string): Promise<string> {
    this.record({ t: 'image-audit', image: this.name(path) });
    return path;
  }

  async hostWork<K extends HostWorkKind>(t: K, work: () => Promise<HostWork<K>>): Promise<HostWork<K>> {
    const seen = await work();
    this.record({ t, ...seen } as unknown as ImageObservation);
    return seen;
  }
}

/** Where an observed block first differs from what the model expects: the byte, or only that the digest differs. */
export function blockDifference(seen: ObservedBlock, want: Buffer): { expected: string; found: string } | undefined {
  if (seen.sha256 === blockDigest(want)) return undefined;
  if (seen.hex === undefined) return { expected: `sha256 ${blockDigest(want).slice(0, 16)}`, found: `sha256 ${seen.sha256.slice(0, 16)} (bytes not kept)` };
  const got = Buffer.from(seen.hex, 'hex');
  let at = 0;
  while (at < Math.min(got.length, want.length) && got[at] === want[at]) at++;
  const hex = (n: number | undefined) => (n ?? 0).toString(16).padStart(2, '0');
  return { expected: `byte ${at} = 0x${hex(want[at])}`, found: `0x${hex(got[at])}` };
}
