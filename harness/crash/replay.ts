/**
 * Crash points of a dm-log-writes log and the device image at each. A crash point `end` means: the
 * entries [0, end) reached the disk, nothing after them did. dm-log-writes already orders the log as the
 * worst case a volatile write cache allows (plain writes only at the flush after their completion), so a
 * prefix of the log is a state a power cut can leave:
 * - flush/FUA points: right after each flush or FUA entry, and the end of the log;
 * - torn points: a prefix of the writes since the last flush/FUA point, sampled;
 * - reordered points: any other subset of those writes (a volatile cache may persist them in any order),
 *   sampled.
 * A point is moved past marks that follow it: the image is the same and the marks tell the model more.
 */
import type { ImageSource } from '../model/image-source.ts';
import { ModelInputError } from '../model/errors.ts';
import { entryData, isDiscard, isFlush, isFua, isMark, writesData, type LogEntry, type WriteLog } from './log-writes.ts';

export interface CrashPoint {
  /** entries [0, end) are on the disk (reordered points: [0, windowStart) and `apply`) */
  end: number;
  kind: 'flush' | 'fua' | 'torn' | 'reordered' | 'end';
  /** where the window of writes since the last flush/FUA point starts */
  windowStart: number;
  /** reordered points: the window's entries that reached the disk, in log order */
  apply?: number[];
}

/** Where the replay must stand before a point's image is taken. */
export const replayPosition = (p: CrashPoint) => (p.apply !== undefined ? p.windowStart : p.end);

/** Deterministic PRNG (mulberry32) so a scenario samples the same torn points on every run. */
export function seededRandom(seed: string): () => number {
  let h = 2166136261;
  for (const c of seed) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pastMarks(entries: LogEntry[], end: number): number {
  while (end < entries.length && isMark(entries[end]!)) end++;
  return end;
}

/**
 * Every flush/FUA point, the end of the log, `torn` sampled torn points and `reordered` sampled reordered
 * points, in the order a forward replay reaches them.
 */
export function selectCrashPoints(log: WriteLog, opts: { torn: number; reordered?: number; seed: string }): CrashPoint[] {
  const { entries } = log;
  const barriers: CrashPoint[] = [];
  const torn: CrashPoint[] = [];
  let windowStart = 0;
  entries.forEach((e, i) => {
    if (!isFlush(e) && !isFua(e)) return;
    barriers.push({ end: i + 1, kind: isFlush(e) ? 'flush' : 'fua', windowStart });
    windowStart = i + 1;
  });
  barriers.push({ end: entries.length, kind: 'end', windowStart });
  // Torn candidates: after some but not all writes of a window (the barrier entry itself excluded).
  const candidates: CrashPoint[] = [];
  let start = 0;
  for (const b of barriers) {
    const last = b.kind === 'end' ? b.end : b.end - 1;
    let writesSeen = 0;
    for (let i = start; i < last; i++) {
      if (!writesData(entries[i]!)) continue;
      writesSeen++;
      if (writesSeen >= 1 && hasWriteIn(entries, i + 1, last)) candidates.push({ end: i + 1, kind: 'torn', windowStart: start });
    }
    start = b.end;
  }
  const rand = seededRandom(opts.seed);
  const pool = [...candidates];
  for (let k = 0; k < opts.torn && pool.length > 0; k++) torn.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  const byEnd = new Map<number, CrashPoint>();
  for (const p of [...barriers, ...torn]) {
    const end = pastMarks(entries, p.end);
    if (!byEnd.has(end)) byEnd.set(end, { ...p, end });
  }
  const reordered = sampleReordered(entries, barriers, opts.reordered ?? 0, seededRandom(`${opts.seed}#reordered`));
  return [...byEnd.values(), ...reordered].sort((a, b) => replayPosition(a) - replayPosition(b) || Number(a.apply !== undefined) - Number(b.apply !== undefined));
}

/** Subsets of a window's writes that are neither empty, nor all, nor a prefix (those are other points). */
function sampleReordered(entries: LogEntry[], barriers: CrashPoint[], count: number, rand: () => number): CrashPoint[] {
  const windows = barriers.map((b) => {
    const last = b.kind === 'end' ? b.end : b.end - 1;
    const writes: number[] = [];
    for (let i = b.windowStart; i < last; i++) if (writesData(entries[i]!)) writes.push(i);
    return { start: b.windowStart, writes };
  }).filter((w) => w.writes.length >= 2);
  const out: CrashPoint[] = [];
  const seen = new Set<string>();
  for (let tries = 0; out.length < count && windows.length > 0 && tries < count * 20; tries++) {
    const w = windows[Math.floor(rand() * windows.length)]!;
    const apply = w.writes.filter(() => rand() < 0.5);
    const isPrefix = apply.every((e, k) => e === w.writes[k]);
    const key = `${w.start}:${apply.join(',')}`;
    if (isPrefix || apply.length === w.writes.length || seen.has(key)) continue;
    seen.add(key);
    out.push({ end: apply.at(-1)! + 1, kind: 'reordered', windowStart: w.start, apply });
  }
  return out;
}

function hasWriteIn(entries: LogEntry[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (writesData(entries[i]!)) return true;
  return false;
}

/**
 * A deliberately wrong replay, for showing that the checker notices: `drop-range` leaves out every write
 * that touches the given byte range (e.g. dm-integrity's journal, so commits never reach the disk).
 */
export interface BrokenReplay {
  kind: 'drop-range';
  start: number;
  length: number;
}

/**
 * Rebuilds the device image entry by entry. `advanceTo(end)` applies entries up to `end` (which must not
 * go backwards) to the image in place, and returns the byte ranges it changed.
 */
export class Replayer {
  private next = 0;
  readonly image: Buffer;

  constructor(private readonly log: ImageSource, private readonly parsed: WriteLog, base: Buffer, private readonly broken?: BrokenReplay) {
    this.image = Buffer.from(base);
  }

  get position(): number {
    return this.next;
  }

  /** A copy of the image with some of the entries ahead of the replay applied too (a reordered point). */
  imageWith(indices: number[]): Buffer {
    const img = Buffer.from(this.image);
    for (const i of indices) {
      const e = this.parsed.entries[i];
      if (e === undefined || i < this.next) throw new ModelInputError(`entry ${i} is not ahead of the replay (at ${this.next})`, { source: this.log.name });
      this.apply(img, e);
    }
    return img;
  }

  advanceTo(end: number): Array<[number, number]> {
    if (end < this.next || end > this.parsed.entries.length) {
      throw new ModelInputError(`replay cannot go from entry ${this.next} to ${end} (log has ${this.parsed.entries.length})`, { source: this.log.name });
    }
    const changed: Array<[number, number]> = [];
    for (; this.next < end; this.next++) {
      const e = this.parsed.entries[this.next]!;
      if (this.apply(this.image, e)) changed.push([e.offset, e.length]);
    }
    return changed;
  }

  /** Puts one entry's bytes on `img`; false when the entry writes nothing (or the broken replay drops it). */
  private apply(img: Buffer, e: LogEntry): boolean {
    if (!writesData(e) || this.dropped(e)) return false;
    if (e.offset + e.length > img.length) {
      throw new ModelInputError(`entry ${e.index} writes bytes ${e.offset}..${e.offset + e.length - 1}, beyond the ${img.length}-byte device`, { source: this.log.name });
    }
    // A discard leaves the blocks' content unspecified; dm-integrity below never sends one here, but
    // zeroes are what the virtio disk returns for a discarded range of a sparse image.
    if (isDiscard(e)) img.fill(0, e.offset, e.offset + e.length);
    else entryData(this.log, e).copy(img, e.offset);
    return true;
  }

  private dropped(e: LogEntry): boolean {
    const b = this.broken;
    return b !== undefined && e.offset < b.start + b.length && b.start < e.offset + e.length;
  }
}

/** Byte ranges (aligned to `unit`) where two equally long images differ, merged. */
export function differingRanges(a: Buffer, b: Buffer, unit = 4096): Array<[number, number]> {
  if (a.length !== b.length) throw new RangeError(`images differ in length: ${a.length} vs ${b.length}`);
  const out: Array<[number, number]> = [];
  for (let off = 0; off < a.length; off += unit) {
    const end = Math.min(off + unit, a.length);
    if (a.subarray(off, end).equals(b.subarray(off, end))) continue;
    const last = out.at(-1);
    if (last && last[0] + last[1] === off) last[1] += end - off;
    else out.push([off, end - off]);
  }
  return out;
}
