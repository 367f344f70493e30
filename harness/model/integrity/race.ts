/**
 * What overlapping concurrent reads and writes on a hot range may legally observe (the `race` step), judged
 * per integrity block from the times each I/O was submitted and seen complete (microseconds on one guest clock).
 *
 * Rules:
 * - No I/O of the race may fail on a stack without corruption: every write succeeds, every read returns all
 *   its bytes (no EILSEQ, no EIO, no short transfer). Overlap is the caller's business, not an error.
 * - A block is written whole or not at all: dm-integrity computes one tag over the block's data (and its
 *   range locks, add_new_range/wait_and_add_new_range, keep an overlapping read or write off it until a
 *   write is done), so every 512-byte sector of a block a read returns comes from the same version. Across
 *   blocks a read may mix versions: no rule of the block layer keeps a multi-block O_DIRECT request atomic.
 * - A version is the content before the race ("pre") or one write of the race that covers the block. A read
 *   R may return write W's version only if W was submitted before R was seen complete (W.t0 <= R.t1), and
 *   not if W was definitely overwritten before R was submitted: some write W' covering the block was
 *   submitted after W was seen complete (W.t1 < W'.t0) and was itself seen complete before R was submitted
 *   (W'.t1 < R.t0). The content before the race is overwritten by any write seen complete before R.t0.
 *   A failed write may or may not have landed: it is a possible version but never overwrites one.
 * - After the race (every writer done) a block holds one version that no completed write overwrote: the
 *   "final" read is judged by the same rule, and its versions are what the model then holds.
 * - Bytes that are no version at all (a sector of no writer, a torn sector, a sector written to the wrong
 *   place, whose payload names another address) are always a disagreement.
 */

import type { IntegrityDeviceModel } from './device.ts';
import { raceWriteData } from './race-payload.ts';

/** What one 512-byte sector held: a write of this race, what the range held before it (`pre`), or other bytes (their hash). */
export type SectorVersion = { kind: 'write'; writer: number; seq: number } | { kind: 'pre' } | { kind: 'other'; hash: string };

export interface RaceIo {
  writer: number;
  /** the writer's sequence number of this I/O (reads and writes count together) */
  seq: number;
  /** first 512-byte sector and how many */
  sector: number;
  sectors: number;
  /** microseconds (CLOCK_MONOTONIC in the guest): before submission, after completion was seen */
  t0: number;
  t1: number;
  /** 0, or the errno; a short transfer is errno 0 with `short` bytes */
  errno: number;
  short?: number;
  /** reads that succeeded: one entry per sector */
  versions?: SectorVersion[];
}

export interface RaceWhole {
  sector: number;
  sectors: number;
  t0: number;
  t1: number;
  errno: number;
  versions?: SectorVersion[];
}

/** One dmsetup command of the churn (race-churn.ts): its round, what it did, its times on the I/Os' clock, its exit status (-1: killed or not run). */
export interface RaceDmCommand {
  round: number;
  cmd: 'suspend' | 'reload' | 'resume';
  /** the suspend's flags ("noflush", "nolockfs", "noflush,nolockfs" or ""), the reload's table ("table0") */
  flags: string;
  t0: number;
  t1: number;
  exit: number;
  signal?: number;
}

export interface RaceObservation {
  initial?: RaceWhole | undefined;
  writes: RaceIo[];
  reads: RaceIo[];
  final?: RaceWhole | undefined;
  /** the churn's dmsetup commands, when the race ran under one */
  dm?: RaceDmCommand[] | undefined;
}

export interface RaceInput {
  /** the hot range, in 512-byte sectors */
  firstSector: number;
  sectors: number;
  sectorsPerBlock: number;
  /** per sector of the range: the hash (race-payload.ts sectorHash) of what the model holds before the race */
  preHashes: string[];
  obs: RaceObservation;
}

export type RaceDisagreementKind =
  | 'race-write-failed' | 'race-read-failed' | 'race-initial' | 'race-foreign' | 'race-torn' | 'race-stale' | 'race-future' | 'race-final-failed';

export interface RaceDisagreement {
  kind: RaceDisagreementKind;
  /** 512-byte sector on the top device */
  sector: number;
  expected: string;
  found: string;
}

export type BlockVersion = { kind: 'write'; writer: number; seq: number } | { kind: 'pre' };

export interface RaceJudgement {
  disagreements: RaceDisagreement[];
  /**
   * Per block of the range (index from the range's first block): the version the final read found, when every
   * block's is a version at all (legal or not); undefined when the final read failed or found bytes of no version.
   */
  final: BlockVersion[] | undefined;
  /** how many block observations the race's reads made, and how many saw a write of the race */
  blocksRead: number;
  blocksFromWrites: number;
}

const name = (v: SectorVersion | BlockVersion): string =>
  v.kind === 'write' ? `write ${v.writer}.${v.seq}` : v.kind === 'pre' ? 'the content before the race' : `bytes of no version (fnv1a64 ${v.hash})`;

const ioName = (w: RaceIo): string => `${w.writer}.${w.seq} (sectors ${w.sector}+${w.sectors}, ${w.t0}-${w.t1} us)`;

/** Per block: its writes, and for each the time by which a later completed write had surely overwritten it. */
interface BlockHistory {
  writes: Map<string, { w: RaceIo; overwrittenBy: number }>;
  /** the earliest completion of a successful write covering the block: the content before the race is gone after it */
  preGoneBy: number;
}

const ok = (w: RaceIo): boolean => w.errno === 0 && w.short === undefined;
const key = (writer: number, seq: number): string => `${writer}.${seq}`;

function histories(input: RaceInput): BlockHistory[] {
  const spb = input.sectorsPerBlock;
  const blocks = input.sectors / spb;
  const first = input.firstSector / spb;
  const per: RaceIo[][] = Array.from({ length: blocks }, () => []);
  for (const w of input.obs.writes) {
    const a = Math.max(Math.floor(w.sector / spb), first);
    const b = Math.min(Math.ceil((w.sector + w.sectors) / spb), first + blocks);
    for (let x = a; x < b; x++) per[x - first]!.push(w);
  }
  return per.map((ws) => {
    const done = ws.filter(ok);
    const writes = new Map<string, { w: RaceIo; overwrittenBy: number }>();
    for (const w of ws) {
      let by = Infinity;
      for (const o of done) if (o !== w && w.t1 < o.t0 && o.t1 < by) by = o.t1;
      writes.set(key(w.writer, w.seq), { w, overwrittenBy: by });
    }
    return { writes, preGoneBy: done.reduce((m, w) => Math.min(m, w.t1), Infinity) };
  });
}

/**
 * The versions one read (or the final read) found, block by block, judged against the histories. Returns the
 * block versions it found (undefined for a block of bytes that is no version).
 */
function judgeRead(input: RaceInput, hist: BlockHistory[], r: { sector: number; sectors: number; t0: number; t1: number; versions: SectorVersion[] },
  what: string, out: RaceDisagreement[]): Array<BlockVersion | undefined> {
  const spb = input.sectorsPerBlock;
  const found: Array<BlockVersion | undefined> = [];
  for (let s = 0; s < r.sectors; s += spb) {
    const sector = r.sector + s;
    const h = hist[(sector - input.firstSector) / spb]!;
    const vs = r.versions.slice(s, s + spb);
    const foreign = vs.findIndex((v) => v.kind === 'other' || (v.kind === 'write' && !h.writes.has(key(v.writer, v.seq))));
    if (foreign >= 0) {
      const v = vs[foreign]!;
      out.push({ kind: 'race-foreign', sector: sector + foreign, expected: 'a version written to this sector (or the content before the race)',
        found: v.kind === 'write' ? `the payload of write ${v.writer}.${v.seq}, which never covered this sector` : `${name(v)} (${what})` });
      found.push(undefined);
      continue;
    }
    const v = vs[0]! as BlockVersion;
    const torn = vs.findIndex((x) => name(x) !== name(v));
    if (torn >= 0) {
      out.push({ kind: 'race-torn', sector, expected: `all ${spb} sectors of the block from one version`, found: `${name(v)} and ${name(vs[torn]!)} (${what})` });
      found.push(undefined);
      continue;
    }
    found.push(v);
    if (v.kind === 'pre') {
      if (h.preGoneBy < r.t0) {
        out.push({ kind: 'race-stale', sector, expected: `a write: one covering this block completed at ${h.preGoneBy} us, before ${what} began at ${r.t0} us`, found: name(v) });
      }
      continue;
    }
    const e = h.writes.get(key(v.writer, v.seq))!;
    if (e.w.t0 > r.t1) out.push({ kind: 'race-future', sector, expected: `a version submitted before ${what} completed at ${r.t1} us`, found: `write ${ioName(e.w)}` });
    else if (e.overwrittenBy < r.t0) {
      out.push({ kind: 'race-stale', sector, expected: `a version not overwritten before ${what} began at ${r.t0} us`, found: `write ${ioName(e.w)}, overwritten by a write completed at ${e.overwrittenBy} us` });
    }
  }
  return found;
}

/** The race's verdict: every disagreement, and the final versions the model may adopt. */
export function judgeRace(input: RaceInput): RaceJudgement {
  const { obs } = input;
  const spb = input.sectorsPerBlock;
  if (input.sectors % spb || input.firstSector % spb || input.preHashes.length !== input.sectors) {
    throw new RangeError(`race range ${input.firstSector}+${input.sectors} with ${input.preHashes.length} hashes is not whole blocks of ${spb} sectors`);
  }
  const out: RaceDisagreement[] = [];
  const fail = (w: RaceIo) => (w.short !== undefined ? `${w.short} of ${w.sectors * 512} bytes` : `errno ${w.errno}`);
  for (const w of obs.writes) if (!ok(w)) out.push({ kind: 'race-write-failed', sector: w.sector, expected: 'every write of the race succeeds', found: `write ${ioName(w)}: ${fail(w)}` });
  // the snapshot every later "pre" is measured against must be what the model holds
  const init = obs.initial;
  if (init === undefined || init.errno !== 0 || init.versions === undefined) {
    out.push({ kind: 'race-initial', sector: input.firstSector, expected: 'the read before the race succeeds', found: init === undefined ? 'no initial read' : `errno ${init.errno}` });
  } else {
    init.versions.forEach((v, i) => {
      const want = input.preHashes[i]!;
      if (v.kind !== 'other' || v.hash !== want) {
        out.push({ kind: 'race-initial', sector: init.sector + i, expected: `before the race, what the model holds (fnv1a64 ${want})`, found: name(v) });
      }
    });
  }
  const hist = histories(input);
  let blocksRead = 0;
  let blocksFromWrites = 0;
  for (const r of obs.reads) {
    if (!ok(r) || r.versions === undefined) {
      out.push({ kind: 'race-read-failed', sector: r.sector, expected: 'every read of the race succeeds', found: `read ${ioName(r)}: ${fail(r)}` });
      continue;
    }
    const seen = judgeRead(input, hist, { ...r, versions: r.versions }, `read ${ioName(r)}`, out);
    blocksRead += seen.length;
    blocksFromWrites += seen.filter((v) => v?.kind === 'write').length;
  }
  const fin = obs.final;
  if (fin === undefined || fin.errno !== 0 || fin.versions === undefined) {
    out.push({ kind: 'race-final-failed', sector: input.firstSector, expected: 'the read after the race succeeds', found: fin === undefined ? 'no final read' : `errno ${fin.errno}` });
    return { disagreements: out, final: undefined, blocksRead, blocksFromWrites };
  }
  const found = judgeRead(input, hist, { ...fin, versions: fin.versions }, `the final read (${fin.t0}-${fin.t1} us)`, out);
  const final = found.every((v) => v !== undefined) ? (found as BlockVersion[]) : undefined;
  return { disagreements: out, final, blocksRead, blocksFromWrites };
}

/**
 * The device model takes the versions the final read found: each block a write of the race left holds that
 * write's payload (race `tag`), the others keep what they held before the race.
 */
export function adoptRaceFinal(model: IntegrityDeviceModel, tag: number, firstSector: number, final: BlockVersion[]): void {
  const spb = model.sectorsPerBlock;
  final.forEach((v, b) => {
    if (v.kind !== 'write') return;
    const sector = firstSector + b * spb;
    model.write(sector, raceWriteData(tag, v.writer, v.seq, sector, spb));
  });
}
