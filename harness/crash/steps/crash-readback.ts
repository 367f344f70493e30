/**
 * A crash point's read-back, compact: each block as the version of it that it equals (old, or the write of
 * workload operation n), run-length encoded over consecutive blocks, and the blocks that equal no version
 * by digest (bytes kept for the first few). A version's bytes are generated from the scenario's seed, so a
 * block recorded as version u holds content(block, u) and needs no digest: crash/001 reads ~675,000 blocks
 * over its crash points, nearly all of them in a few long runs.
 */
import type { CrashConsistencyModel, Version } from '../../model/crash/consistency.ts';
import { blockDigest, KEEP_DIFFERING_BLOCKS } from '../../run/session/host-images.ts';
import type { ForeignBlock, ReadBackRun } from '../../run/session/observations.ts';

export interface ReadBack {
  blockSize: number;
  runs: ReadBackRun[];
  other: ForeignBlock[];
}

/** One block of a read-back: the version it equals, or its digest (and maybe bytes) when it equals none. */
export type ReadBackBlock = { block: number; version: Version } | ({ foreign: true } & ForeignBlock);

/**
 * The version `bytes` equal in `block`: the first of every version the block has (not only those the model
 * allows at this point, so a lost or future write is named too); undefined when it equals none.
 */
export function versionOf(model: CrashConsistencyModel, block: number, bytes: Buffer): Version | undefined {
  return model.versions(block).find((v) => model.content(block, v)?.equals(bytes) ?? false);
}

/** Encodes what a crash point read: extents of the top device (byte offset, the bytes read there). */
export function encodeReadBack(model: CrashConsistencyModel, extents: Array<{ offset: number; bytes: Buffer }>, keepBytes = KEEP_DIFFERING_BLOCKS): ReadBack {
  const bs = model.blockSize;
  const out: ReadBack = { blockSize: bs, runs: [], other: [] };
  for (const { offset, bytes } of extents) {
    for (let at = 0; at < bytes.length; at += bs) {
      const block = (offset + at) / bs;
      const seen = bytes.subarray(at, at + bs);
      const v = versionOf(model, block, seen);
      if (v === undefined) {
        const keep = out.other.length < keepBytes;
        out.other.push({ block, sha256: blockDigest(seen), ...(keep ? { hex: seen.toString('hex') } : {}) });
        continue;
      }
      const last = out.runs.at(-1);
      if (last !== undefined && last[0] + last[1] === block && last[2] === v) last[1]++;
      else out.runs.push([block, 1, v]);
    }
  }
  return out;
}

/** Every block of a read-back in block order, runs and foreign blocks merged. */
export function* readBackBlocks(rb: Pick<ReadBack, 'runs' | 'other'>): Generator<ReadBackBlock> {
  const runs = [...rb.runs].sort((a, b) => a[0] - b[0]);
  const other = [...rb.other].sort((a, b) => a.block - b.block);
  let o = 0;
  for (const [first, count, version] of runs) {
    for (let block = first; block < first + count; block++) {
      while (o < other.length && other[o]!.block < block) yield { foreign: true, ...other[o++]! };
      yield { block, version };
    }
  }
  while (o < other.length) yield { foreign: true, ...other[o++]! };
}

/** The blocks a read-back covers, in order: what a replay checks against the blocks the current code reads. */
export function blocksOf(rb: Pick<ReadBack, 'runs' | 'other'>): number[] {
  return [...readBackBlocks(rb)].map((b) => b.block);
}
