/**
 * What a stack may do with an O_DIRECT write whose buffer userspace rewrites while the write is in flight (the
 * `unstable` step, ih-io unstable in vm/agent/io-race.c). Userspace may do this; the bytes written are then
 * unspecified, but what the stack does afterwards is not. Read in mainline's drivers/md/dm-integrity.c and
 * dm-crypt.c; Debian's 6.1.192 and 6.12.118 modules both carry integrity_recheck() (its stable backport in 6.1):
 *
 * - O_DIRECT pins the user's pages and the bio carries them (bio_iov_iter_get_pages): every layer below reads
 *   the live buffer, so each byte it takes is that byte of some version the buffer held during the flight, and
 *   two layers reading the same byte at different times may take different versions.
 * - dm-integrity journal mode ('J'): __journal_read_write() memcpy()s the bio's data into the journal, then
 *   computes the tag from that copy (integrity_sector_checksum(ic, logical_sector, js, ...)); the commit writes
 *   the journal copy and that tag (do_journal_write, copy_from_journal), and a replay checks the same pair. Data
 *   and tag always agree: every later read succeeds, and returns per byte some version (memcpy can tear
 *   anywhere, within a sector too).
 * - dm-integrity direct ('D') and bitmap ('B') modes: dm_integrity_map_continue() submits the bio, with the
 *   user's pages, to the lower device and queues integrity_metadata(), which computes the tags from the same
 *   pages while (or after) the lower device reads them. The disk may then hold data its tag does not verify: a
 *   later read of such a block fails with EILSEQ (a known limitation, not a kernel bug), and a successful read
 *   returns per byte some version. Nothing else may break: other blocks read as before, a write of the block
 *   stores data and tag again and heals it, and each failing single-block read counts one mismatch (the
 *   integrity_recheck() re-read finds the same bytes on disk).
 * - dm-crypt with an AEAD (on dm-integrity without a hash): kcryptd_crypt_write_convert() allocates the clone's
 *   own pages (crypt_alloc_buffer) and crypt_convert_block_aead() encrypts from the user's pages into them, the
 *   tag computed over the ciphertext it wrote (gcm: ctr into dst, then GHASH over dst). Ciphertext, IV and tag
 *   agree: every later read succeeds, and decrypts per byte to some version.
 *
 * The judge is pure: it takes what ih-io reported (each write with how many versions its buffer went
 * through, each block read back alone after its write) and returns the disagreements and what each block
 * holds after the step, which the device model adopts.
 */
import { RACE_SECTOR, raceSector } from './race-payload.ts';

export const EILSEQ = 84;

/** The stacks the rules above tell apart. */
export type UnstableStack = 'journal' | 'bitmap' | 'direct' | 'crypt-aead';

/** Whether a read of a block written from a changing buffer may fail with EILSEQ on this stack. */
export function unstableMayFail(stack: UnstableStack): boolean {
  return stack === 'bitmap' || stack === 'direct';
}

export interface UnstableWrite {
  /** the write's index; its payload names writer k+1 */
  k: number;
  sector: number;
  sectors: number;
  /** microseconds on the guest's clock: before submission, after the completion was seen */
  t0: number;
  t1: number;
  errno: number;
  /** versions the buffer went through, version 0 included: any byte of versions 0..versions-1 may be on disk */
  versions: number;
  /** sectors the mutator rewrote between submission and completion: > 0 means the buffer changed in flight */
  mutated: number;
}

/** One sector read back: exactly version `v` of its write, or other bytes. */
export type UnstableSector = { kind: 'version'; v: number } | { kind: 'bytes'; bytes: Buffer };

export interface UnstableBlockRead {
  /** the write it follows */
  k: number;
  sector: number;
  errno: number;
  /** when errno is 0: one entry per 512-byte sector */
  sectors?: UnstableSector[];
}

export interface UnstableInput {
  stack: UnstableStack;
  /** the payload's race tag (io-race.c race_fill) */
  tag: number;
  sectorsPerBlock: number;
  writes: UnstableWrite[];
  reads: UnstableBlockRead[];
}

export type UnstableDisagreementKind = 'unstable-write-failed' | 'unstable-read-failed' | 'unstable-eilseq' | 'unstable-foreign' | 'unstable-missing';

export interface UnstableDisagreement {
  kind: UnstableDisagreementKind;
  sector: number;
  expected: string;
  found: string;
}

/** What a block holds after the step: the bytes its last read returned, or data its tag does not verify. */
export type UnstableOutcome = { kind: 'data'; data: Buffer } | { kind: 'mismatch' };

export interface UnstableJudgement {
  disagreements: UnstableDisagreement[];
  /** per block index (sector / sectorsPerBlock): its state after the step, from the last write covering it */
  blocks: Map<number, UnstableOutcome>;
  /** blocks whose last write's read back broke a rule: what they hold is not known */
  unknown: Set<number>;
  /** writes whose buffer changed while they were in flight */
  mutatedWrites: number;
  /** block reads that returned one version whole: version 0, or a later one */
  exactFirst: number;
  exactLater: number;
  /** block reads that returned a mix of versions (across or within sectors) */
  mixed: number;
  /** block reads that failed with EILSEQ (allowed on this stack) */
  eilseq: number;
  /** sectors read back that were no single version: the stack took them while the buffer was half rewritten */
  tornSectors: number;
}

/**
 * Whether every byte of `got` is that byte of some version 0..versions-1 of the sector `lba` of write k.
 * Returns the first byte that is no version's, or -1.
 */
export function foreignByte(got: Buffer, tag: number, k: number, versions: number, lba: number): number {
  const open = new Uint8Array(RACE_SECTOR).fill(1);
  let left = RACE_SECTOR;
  for (let v = 0; v < versions && left > 0; v++) {
    const want = raceSector(tag, k + 1, v, lba);
    for (let i = 0; i < RACE_SECTOR; i++) {
      if (open[i] && got[i] === want[i]) {
        open[i] = 0;
        left--;
      }
    }
  }
  return left === 0 ? -1 : open.indexOf(1);
}

export function judgeUnstable(input: UnstableInput): UnstableJudgement {
  const { tag, sectorsPerBlock: spb } = input;
  const mayFail = unstableMayFail(input.stack);
  const out: UnstableJudgement = { disagreements: [], blocks: new Map(), unknown: new Set(), mutatedWrites: 0, exactFirst: 0, exactLater: 0, mixed: 0, eilseq: 0, tornSectors: 0 };
  const say = (d: UnstableDisagreement) => out.disagreements.push(d);
  const byWrite = new Map<number, UnstableBlockRead[]>();
  for (const r of input.reads) byWrite.set(r.k, [...(byWrite.get(r.k) ?? []), r]);
  for (const w of input.writes) {
    if (w.mutated > 0) out.mutatedWrites++;
    if (w.errno !== 0) say({ kind: 'unstable-write-failed', sector: w.sector, expected: 'the write succeeds (a changing buffer makes its bytes unspecified, not the write fail)', found: `write ${w.k}: errno ${w.errno}` });
    const reads = byWrite.get(w.k) ?? [];
    for (let s = w.sector; s < w.sector + w.sectors; s += spb) {
      const block = s / spb;
      const r = reads.find((x) => x.sector === s);
      if (r === undefined) {
        say({ kind: 'unstable-missing', sector: s, expected: `block ${block} read back after write ${w.k}`, found: 'no read' });
        out.blocks.delete(block);
        out.unknown.add(block);
        continue;
      }
      if (r.errno === EILSEQ && mayFail) {
        out.eilseq++;
        out.blocks.set(block, { kind: 'mismatch' });
        out.unknown.delete(block);
        continue;
      }
      if (r.errno !== 0 || r.sectors === undefined) {
        const rule = input.stack === 'crypt-aead' ? 'dm-crypt encrypts from the buffer into its own pages, the tag over that ciphertext'
          : 'the journal holds a copy of the buffer, the tag computed from that copy';
        say(r.errno === EILSEQ
          ? { kind: 'unstable-eilseq', sector: s, expected: `block ${block} reads back (${rule})`, found: `EILSEQ after write ${w.k}` }
          : { kind: 'unstable-read-failed', sector: s, expected: `block ${block} reads back${mayFail ? ' or fails with EILSEQ' : ''}`, found: `errno ${r.errno} after write ${w.k}` });
        out.blocks.delete(block);
        out.unknown.add(block);
        continue;
      }
      const judged = judgeBlock(r.sectors, { tag, w, s, spb });
      if (judged.foreign !== undefined) {
        say({ kind: 'unstable-foreign', sector: judged.foreign.sector, expected: `each byte from one of the ${w.versions} versions write ${w.k}'s buffer went through`,
          found: `byte ${judged.foreign.byte} of sector ${judged.foreign.sector} is no version's` });
        out.blocks.delete(block);
        out.unknown.add(block);
        continue;
      }
      out.tornSectors += judged.torn;
      if (judged.kind === 'first') out.exactFirst++;
      else if (judged.kind === 'later') out.exactLater++;
      else out.mixed++;
      out.blocks.set(block, { kind: 'data', data: judged.data });
      out.unknown.delete(block);
    }
  }
  return out;
}

function judgeBlock(sectors: UnstableSector[], p: { tag: number; w: UnstableWrite; s: number; spb: number }):
  { kind: 'first' | 'later' | 'mixed'; data: Buffer; torn: number; foreign?: undefined } | { foreign: { sector: number; byte: number }; kind?: undefined } {
  const { tag, w, s, spb } = p;
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  let torn = 0;
  for (let i = 0; i < spb; i++) {
    const x = sectors[i];
    const lba = s + i;
    if (x === undefined) return { foreign: { sector: lba, byte: 0 } };
    if (x.kind === 'version') {
      if (x.v >= w.versions) return { foreign: { sector: lba, byte: 16 } };
      seen.add(String(x.v));
      parts.push(raceSector(tag, w.k + 1, x.v, lba));
      continue;
    }
    const bad = x.bytes.length !== RACE_SECTOR ? 0 : foreignByte(x.bytes, tag, w.k, w.versions, lba);
    if (bad >= 0) return { foreign: { sector: lba, byte: bad } };
    seen.add('torn');
    torn++;
    parts.push(x.bytes);
  }
  const kind = seen.size > 1 || seen.has('torn') ? 'mixed' : seen.has('0') ? 'first' : 'later';
  return { kind, data: Buffer.concat(parts), torn };
}
