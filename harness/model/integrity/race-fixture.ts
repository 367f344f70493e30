/**
 * The race model tests' hot range and I/O builders (race.test.ts, race-churn.test.ts): 4 blocks of 8 sectors
 * (4 KiB blocks) at sector 64, each sector's version before the race a hash of its own pattern.
 */
import type { RaceIo, SectorVersion } from './race.ts';
import { sectorHash } from './race-payload.ts';

export const SPB = 8;
export const FIRST = 64;
export const SECTORS = 32;
export const PRE = Array.from({ length: SECTORS }, (_, i) => sectorHash(Buffer.alloc(512, i)));

/** A write of `blocks` blocks from `block` by writer/seq, submitted at t0 and completed at t1. */
export const w = (writer: number, seq: number, block: number, blocks: number, t0: number, t1: number, errno = 0): RaceIo =>
  ({ writer, seq, sector: FIRST + block * SPB, sectors: blocks * SPB, t0, t1, errno });
/** n sectors that still hold what was there before the race */
export const pre = (n: number): SectorVersion[] => Array.from({ length: n }, () => ({ kind: 'pre' }));
/** n sectors of writer/seq's write */
export const of = (writer: number, seq: number, n: number): SectorVersion[] => Array.from({ length: n }, () => ({ kind: 'write', writer, seq }));
/** A read of the sectors `versions` describes from `block`; a failed one (errno) saw none. */
export const r = (writer: number, seq: number, block: number, t0: number, t1: number, versions: SectorVersion[], errno = 0): RaceIo =>
  ({ writer, seq, sector: FIRST + block * SPB, sectors: versions.length, t0, t1, errno, ...(errno ? {} : { versions }) });
