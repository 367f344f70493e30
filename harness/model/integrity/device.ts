/**
 * Expected observations of a dm-integrity device with an internal hash, from its history.
 *
 * Rules (drivers/md/dm-integrity.c):
 * - A read verifies every block's tag (integrity_metadata(), TAG_CMP). One failing block fails the whole
 *   O_DIRECT request: the bio ends with BLK_STS_PROTECTION, which the block layer turns into EILSEQ (84).
 * - A write (whole blocks; dm_integrity_check_limits() kills unaligned bios) stores data and a fresh tag,
 *   so it heals an earlier corruption of that block.
 * - With allow_discards, a discard writes DISCARD_FILLER (0xf6) tags; a filler tag passes for any data, so
 *   a discarded block reads successfully with unspecified bytes, and a host corruption of its *data* goes
 *   unnoticed (only a corrupted tag fails). Without allow_discards the target has no discard support.
 * - Never-written blocks: `integritysetup format` (and `cryptsetup luksFormat --integrity`) without
 *   --no-wipe writes zeros through the device, so they read back as zeros. With --no-wipe nothing is
 *   written: their tags are whatever the disk held (zeros on a fresh image) and reads fail with EILSEQ.
 * - Mismatch counter (`dmsetup status` first field): +1 per failing dm-integrity I/O. Since 6.8
 *   (integrity_recheck()) and before, one failing read bio counts once however many bad blocks it holds;
 *   the dm core splits bios at interleave boundaries (max_io_len), and the block layer may split large
 *   requests, so only single-block reads give an exact count. The harness reads each corrupted block on
 *   its own: the counter then equals the number of failed single-block reads (countMismatches).
 * - O_DIRECT on the device needs offset and length aligned to its logical block size, which dm-integrity
 *   sets to its block size (dm_integrity_io_hints()); blkdev_direct_IO() refuses anything else with EINVAL
 *   before a bio exists, so nothing changes and no counter moves.
 * - An I/O error from the device under the data (dm-error there): dm_integrity_map_continue() skips the tag
 *   check when the data read failed ("if (likely(!bio->bi_status)) integrity_metadata()"), so a read of such
 *   a block fails with EIO, never EILSEQ, and the mismatch counter does not move.
 * - A failed device (dm_integrity_io_error(), e.g. "journal commit id" when replay_journal() meets a commit
 *   id that is none of the four): every later read and write ends with the stored error, EIO, in
 *   dm_integrity_map_continue()/do_endio(); rw_journal() no longer writes, so the bad journal stays and the
 *   next activation fails the same way.
 * - Recovery mode (table mode 'R', integritysetup open --integrity-recovery-mode): dm_integrity_ctr() builds
 *   no journal and replay_journal() returns at once, so journal entries a close left used stay unreplayed
 *   (the next normal open replays them) and a bad commit id fails nothing. integrity_metadata() skips the tag
 *   check ("goto skip_io"), so a read returns the data area's bytes as the host left them, never EILSEQ, and
 *   the mismatch counter does not move; an I/O error under the data still fails the read with EIO.
 *   dm_integrity_map() returns DM_MAPIO_KILL for anything but a read, after the flush branch: a write (and a
 *   discard, with allow_discards) ends with BLK_STS_IOERR, EIO, and changes nothing; an empty flush goes to
 *   the commit work, which in any mode but 'J' only flushes buffers, and succeeds. Read in Debian's 6.1
 *   and 6.12 sources, which agree on all of this; 6.12's dm_integrity_resume() also skips every superblock
 *   write in R mode, where 6.1's may still set the recalculating flag (the loader refuses recovery mode with
 *   a recalculation, so the difference is never reached).
 */
import { BlockMap } from './block-map.ts';
import { ModelInputError } from '../errors.ts';

export const EILSEQ = 84;
export const EIO = 5;
export const EOPNOTSUPP = 95;
export const EINVAL = 22;

/**
 * A written block: `at` bytes into `write`, the copy of the write that stored it. Blocks written together sit
 * back to back there, and the audit compares a run of them with one call. `data` is made when asked for:
 * half a million blocks with a Buffer view each are a million objects for every full GC to mark.
 */
export class WrittenBlock {
  readonly kind = 'written';
  constructor(readonly write: Buffer, readonly at: number, private readonly size: number) {}
  get data(): Buffer {
    return this.write.subarray(this.at, this.at + this.size);
  }
}

export interface ExpectedRead {
  ok: boolean;
  /** 0 | 84 EILSEQ | 5 EIO | 22 EINVAL */
  errno: number;
  /**
   * Every errno the request may end with. More than one only when it holds blocks that fail in different
   * ways (an I/O error and a bad tag): the bio may be split, and whichever part fails first decides.
   */
  errnos: number[];
  /** when ok: the bytes the read must return; blocks listed in `indeterminateBlocks` are zero-filled here */
  data?: Buffer;
  /** block indices (sector / sectorsPerBlock) that must fail */
  failingBlocks: number[];
  /** blocks whose content is unspecified (discarded): any bytes are correct */
  indeterminateBlocks: number[];
}

export type BlockState =
  | { kind: 'unwritten' }
  | WrittenBlock
  | { kind: 'discarded' };

export interface BlockExpectation {
  state: BlockState;
  /** a host corruption is in effect and the kernel must detect it */
  corrupted: boolean;
  /** 'data' | 'tag': which part the host corrupted (when corrupted or masked) */
  corruptedWhere?: 'data' | 'tag';
  /** a read of this block alone must fail */
  mustFail: boolean;
  /** when mustFail: the errno a read of this block alone must end with */
  errno: number;
}

export class IntegrityDeviceModel {
  readonly sectorsPerBlock: number;
  readonly providedDataSectors: number;
  readonly allowDiscards: boolean;
  /**
   * Never-written blocks hold zeros under valid tags: wiped at format time (the default for integritysetup
   * and cryptsetup), or their tags recalculated since (recalculate()).
   */
  get wiped(): boolean {
    return this.zeroed;
  }
  private zeroed: boolean;
  readonly blockSize: number;
  readonly blocks: number;
  private readonly state = new BlockMap<BlockState>();
  private readonly corruption = new Map<number, 'data' | 'tag'>();
  private readonly ioErrors = new Set<number>();
  /** a journal commit id no longer matches: every activation fails the device */
  private journalBroken = false;
  /** errno the active device fails every I/O with (0: not failed) */
  private failedWith = 0;
  /** the active device is in recovery mode: no tag checks, reads only */
  private recoveryMode = false;
  /**
   * Blocks whose data area the host changed: the bytes it now holds (null: not known, e.g. a discarded
   * block's). Only a recovery-mode read returns them; a normal read fails on them or never sees them.
   */
  private readonly hostData = new Map<number, Buffer | null>();

  constructor(p: { sectorsPerBlock: number; providedDataSectors: number; allowDiscards?: boolean; wiped?: boolean }) {
    if (![1, 2, 4, 8].includes(p.sectorsPerBlock)) throw new ModelInputError(`sectorsPerBlock must be 1, 2, 4 or 8, got ${p.sectorsPerBlock}`);
    if (!Number.isSafeInteger(p.providedDataSectors) || p.providedDataSectors <= 0 || p.providedDataSectors % p.sectorsPerBlock) {
      throw new ModelInputError(`providedDataSectors must be a positive multiple of ${p.sectorsPerBlock}, got ${p.providedDataSectors}`);
    }
    this.sectorsPerBlock = p.sectorsPerBlock;
    this.providedDataSectors = p.providedDataSectors;
    this.allowDiscards = p.allowDiscards ?? false;
    this.zeroed = p.wiped ?? true;
    this.blockSize = p.sectorsPerBlock * 512;
    this.blocks = p.providedDataSectors / p.sectorsPerBlock;
  }

  /** O_DIRECT alignment: byte offset and length must be multiples of the block (the logical block size). */
  directIoProblem(byteOffset: number, length: number): { errno: number } | undefined {
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || !Number.isSafeInteger(length) || length <= 0) {
      throw new ModelInputError(`direct I/O at ${byteOffset} of ${length} bytes is not a request`);
    }
    return byteOffset % this.blockSize || length % this.blockSize ? { errno: EINVAL } : undefined;
  }

  /** What an O_DIRECT write of `length` bytes at `byteOffset` must return. */
  expectWrite(byteOffset: number, length: number): { ok: boolean; errno: number } {
    const bad = this.directIoProblem(byteOffset, length);
    if (bad) return { ok: false, errno: bad.errno };
    const first = this.blockRange(byteOffset / 512, length, 'write');
    if (this.failedWith) return { ok: false, errno: this.failedWith };
    if (this.recoveryMode) return { ok: false, errno: EIO };
    for (let b = first; b < first + length / this.blockSize; b++) {
      if (this.ioErrors.has(b)) throw new ModelInputError(`write over block ${b}: writes to a block under an I/O error are not modelled`);
    }
    return { ok: true, errno: 0 };
  }

  /**
   * A new activation of the target (integritysetup open): journal replay decides whether it fails. A
   * recovery-mode activation replays nothing, so a broken journal does not fail it.
   */
  activate(opts: { recovery?: boolean } = {}): void {
    this.recoveryMode = opts.recovery ?? false;
    this.failedWith = this.journalBroken && !this.recoveryMode ? EIO : 0;
  }

  /** Whether the active device is in recovery mode. */
  get recovery(): boolean {
    return this.recoveryMode;
  }

  /** A flush (REQ_PREFLUSH): completes through do_endio(), which hands out a failed device's error. */
  expectFlush(): { ok: boolean; errno: number } {
    return this.failedWith ? { ok: false, errno: this.failedWith } : { ok: true, errno: 0 };
  }

  /** The target was removed: nothing is active until the next activate(). */
  deactivate(): void {
    this.failedWith = 0;
    this.recoveryMode = false;
  }

  /** The errno every I/O of the active device ends with, 0 when it works. */
  get failedErrno(): number {
    return this.failedWith;
  }

  /**
   * A host corruption of the (cleanly closed) journal. After a clean close postsuspend re-initialised every
   * section (init_journal): entries unused, data zero, commit ids of the current sequence. A data byte is
   * then never replayed (journal_empty stays true in replay_journal()); a commit id byte matches none of
   * the four ids, so find_commit_seq() fails the device at the next activation.
   */
  corruptJournal(where: 'data' | 'commit-id'): void {
    if (where === 'commit-id') this.journalBroken = true;
  }

  /**
   * An activation replayed journal entries the last close left used (kernels without the journal cleared at
   * suspend): each block is written again from the journal, data and tag, so a host change to it is gone.
   * The journal holds each block's newest write (sections are reused oldest first), which the reads check.
   */
  replayJournal(blocks: Iterable<number>): number[] {
    if (this.recoveryMode) throw new ModelInputError('a recovery-mode activation replays no journal');
    const healed: number[] = [];
    for (const b of blocks) {
      this.checkBlock(b);
      this.hostData.delete(b);
      if (this.corruption.delete(b)) healed.push(b);
    }
    return healed;
  }

  /** From now on the device under the data fails this block's data sectors with EIO. */
  ioError(block: number): void {
    this.checkBlock(block);
    this.ioErrors.add(block);
  }

  /**
   * The host exchanged two blocks' data and tags. A slot now holds the other block's tag, computed for the
   * other sector, so it fails, unless that tag was a discard filler, which passes for any data.
   */
  swap(a: number, b: number): void {
    this.checkBlock(a);
    this.checkBlock(b);
    if (a === b) throw new ModelInputError(`swap of block ${a} with itself`);
    const filler = (x: number) => this.state.get(x)?.kind === 'discarded' && this.corruption.get(x) !== 'tag';
    const [fa, fb] = [filler(a), filler(b)];
    const [da, db] = [this.dataOnDisk(a), this.dataOnDisk(b)];
    this.hostData.set(a, db ?? null);
    this.hostData.set(b, da ?? null);
    for (const [x, partnerFiller] of [[a, fb], [b, fa]] as const) {
      if (partnerFiller) {
        this.state.set(x, { kind: 'discarded' });
        this.corruption.delete(x);
      } else {
        this.corruption.set(x, 'tag');
      }
    }
  }

  write(sector: number, data: Buffer): void {
    const first = this.blockRange(sector, data.length, 'write');
    if (this.failedWith || this.recoveryMode) return;
    const copy = Buffer.from(data);
    for (let i = 0; i * this.blockSize < data.length; i++) {
      const b = first + i;
      const at = i * this.blockSize;
      this.state.set(b, new WrittenBlock(copy, at, this.blockSize));
      this.corruption.delete(b);
      this.hostData.delete(b);
    }
  }

  /** What a discard request must return. */
  expectDiscard(sector: number, sectors: number): { ok: boolean; errno: number } {
    this.blockRange(sector, sectors * 512, 'discard');
    if (!this.allowDiscards) return { ok: false, errno: EOPNOTSUPP };
    if (this.failedWith) return { ok: false, errno: this.failedWith };
    return this.recoveryMode ? { ok: false, errno: EIO } : { ok: true, errno: 0 };
  }

  /** Applies a discard; a no-op when the device has no allow_discards (the request fails, see expectDiscard). */
  discard(sector: number, sectors: number): void {
    const first = this.blockRange(sector, sectors * 512, 'discard');
    if (!this.allowDiscards || this.failedWith || this.recoveryMode) return;
    for (let b = first; b < first + sectors / this.sectorsPerBlock; b++) {
      this.state.set(b, { kind: 'discarded' });
      this.corruption.delete(b);
      this.hostData.delete(b);
    }
  }

  /**
   * A host-side corruption of the block's data (default) or tag, made while the device is inactive: the
   * host inverts byte `byte` of it (XOR 0xff, as integrity-faults.ts flips).
   */
  corrupt(block: number, where: 'data' | 'tag' = 'data', byte = 0): void {
    this.checkBlock(block);
    if (where === 'data') {
      if (!Number.isSafeInteger(byte) || byte < 0 || byte >= this.blockSize) throw new ModelInputError(`byte ${byte} outside the ${this.blockSize}-byte block`);
      const now = this.dataOnDisk(block);
      if (now === undefined) this.hostData.set(block, null);
      else {
        const flipped = Buffer.from(now);
        flipped[byte] = flipped[byte]! ^ 0xff;
        this.hostData.set(block, flipped);
      }
    }
    const prev = this.corruption.get(block);
    // a data and a tag corruption together still fail; keep 'tag' since it fails even when discarded
    this.corruption.set(block, prev === 'tag' ? 'tag' : where);
  }

  /**
   * The kernel itself left the block's data and tag disagreeing: a direct- or bitmap-mode write whose buffer
   * changed while the lower device and the tag computation read it (harness/model/integrity/unstable.ts). Its
   * data bytes are not known; reads fail with EILSEQ and the audit must find the tag not verifying, until a
   * write stores both again.
   */
  mismatch(block: number): void {
    this.checkBlock(block);
    if (this.failedWith || this.recoveryMode) throw new ModelInputError(`block ${block}: a mismatch left by a write needs a working, writable device`);
    this.hostData.set(block, null);
    this.corruption.set(block, 'data');
  }

  /**
   * The kernel recomputed every tag from `fromBlock` on from the data on disk (--integrity-recalculate, waited
   * for): never-written blocks now read as zeros and a flipped tag is replaced. A flipped data byte would become data the model
   * does not hold, so a recalculation over one is refused.
   */
  recalculate(fromBlock = 0): void {
    for (const [block, where] of this.corruption) {
      if (block < fromBlock) continue;
      if (where === 'data') throw new ModelInputError(`recalculating over block ${block}, whose data the host changed, is not modelled`);
      this.corruption.delete(block);
    }
    // blocks below fromBlock: an earlier recalculation (from 0) got that far, so they hold valid tags too
    this.zeroed = true;
  }

  /** For the audit's hot loop, unchecked and allocation-free: the block's state (undefined: never written or discarded). */
  stateOf(block: number): BlockState | undefined {
    return this.state.get(block);
  }

  /** For the audit's hot loop: the host corruption recorded for the block, whether or not a filler masks it. */
  corruptionOf(block: number): 'data' | 'tag' | undefined {
    return this.corruption.get(block);
  }

  blockExpectation(block: number): BlockExpectation {
    this.checkBlock(block);
    const state = this.state.get(block) ?? { kind: 'unwritten' };
    const where = this.corruption.get(block);
    // a corrupted data block under a filler tag still passes: the filler accepts any data
    const corrupted = where !== undefined && !(state.kind === 'discarded' && where === 'data');
    const unwrittenFails = state.kind === 'unwritten' && !this.wiped;
    // recovery mode checks no tag: only the lower device's error or a failed device fails a read
    const tagFails = !this.recoveryMode && (corrupted || unwrittenFails);
    const errno = this.failedWith || (this.ioErrors.has(block) ? EIO : tagFails ? EILSEQ : 0);
    return { state, corrupted, corruptedWhere: where, mustFail: errno !== 0, errno };
  }

  /** O_DIRECT read of `lengthBytes` bytes at 512-byte `sector`: any failing block fails the whole request. */
  expectRead(sector: number, lengthBytes: number): ExpectedRead {
    const first = this.blockRange(sector, lengthBytes, 'read');
    const n = lengthBytes / this.blockSize;
    const failingBlocks: number[] = [];
    const indeterminateBlocks: number[] = [];
    const errnos = new Set<number>();
    const data = Buffer.alloc(lengthBytes);
    for (let i = 0; i < n; i++) {
      const e = this.blockExpectation(first + i);
      if (e.mustFail) {
        failingBlocks.push(first + i);
        errnos.add(e.errno);
      } else if (this.recoveryMode) {
        const bytes = this.dataOnDisk(first + i);
        if (bytes === undefined) indeterminateBlocks.push(first + i);
        else bytes.copy(data, i * this.blockSize);
      } else if (e.state.kind === 'written') e.state.data.copy(data, i * this.blockSize);
      else if (e.state.kind === 'discarded') indeterminateBlocks.push(first + i);
    }
    if (failingBlocks.length) {
      const all = [...errnos].sort((x, y) => x - y);
      return { ok: false, errno: errnos.has(EIO) ? EIO : all[0]!, errnos: all, failingBlocks, indeterminateBlocks: [] };
    }
    return { ok: true, errno: 0, errnos: [0], data, failingBlocks, indeterminateBlocks };
  }

  expectBlockRead(block: number): ExpectedRead {
    this.checkBlock(block);
    return this.expectRead(block * this.sectorsPerBlock, this.blockSize);
  }

  /** The counter after each currently corrupted block has been read once, alone (see the rule above). */
  expectedMismatches(): number {
    return countMismatches(this.corruptedBlocks().length);
  }

  writtenBlocks(): number[] {
    return [...this.state.entries()].filter(([, s]) => s.kind === 'written').map(([b]) => b).sort((a, b) => a - b);
  }

  discardedBlocks(): number[] {
    return [...this.state.entries()].filter(([, s]) => s.kind === 'discarded').map(([b]) => b).sort((a, b) => a - b);
  }

  /** Blocks whose corruption is in effect (not healed by a later write, not masked by a discard filler). */
  corruptedBlocks(): number[] {
    return [...this.corruption.keys()].filter((b) => this.blockExpectation(b).corrupted).sort((a, b) => a - b);
  }

  /**
   * The bytes the block's data area holds (undefined: not known): the host's changes over what the kernel
   * wrote there. A never-written block holds zeros, wiped or not: the harness's images start zeroed and a
   * --no-wipe format writes no data. A discarded block holds whatever the lower device made of the discard.
   */
  dataOnDisk(block: number): Buffer | undefined {
    this.checkBlock(block);
    const host = this.hostData.get(block);
    if (host !== undefined) return host ?? undefined;
    const state = this.state.get(block);
    if (state === undefined || state.kind === 'unwritten') return Buffer.alloc(this.blockSize);
    return state.kind === 'written' ? state.data : undefined;
  }

  private checkBlock(block: number): void {
    if (!Number.isSafeInteger(block) || block < 0 || block >= this.blocks) {
      throw new ModelInputError(`block ${block} outside the device (0..${this.blocks - 1})`);
    }
  }

  /** Validates a block-aligned range inside the device and returns its first block. */
  private blockRange(sector: number, lengthBytes: number, what: string): number {
    if (!Number.isSafeInteger(sector) || sector < 0 || sector % this.sectorsPerBlock) {
      throw new ModelInputError(`${what}: sector ${sector} is not aligned to the ${this.blockSize}-byte block`);
    }
    if (!Number.isSafeInteger(lengthBytes) || lengthBytes <= 0 || lengthBytes % this.blockSize) {
      throw new ModelInputError(`${what}: length ${lengthBytes} bytes is not a positive multiple of the ${this.blockSize}-byte block`);
    }
    if (sector + lengthBytes / 512 > this.providedDataSectors) {
      throw new ModelInputError(`${what}: sectors ${sector}..${sector + lengthBytes / 512 - 1} run past the device end (${this.providedDataSectors} sectors)`);
    }
    return sector / this.sectorsPerBlock;
  }
}

/**
 * Mismatch counter after `readsOfCorruptedBlocks` failed single-block O_DIRECT reads: each increments
 * number_of_mismatches once (integrity_recheck() / integrity_metadata() increment once per failing bio).
 */
export function countMismatches(readsOfCorruptedBlocks: number): number {
  if (!Number.isSafeInteger(readsOfCorruptedBlocks) || readsOfCorruptedBlocks < 0) {
    throw new ModelInputError(`readsOfCorruptedBlocks must be a non-negative integer, got ${readsOfCorruptedBlocks}`);
  }
  return readsOfCorruptedBlocks;
}
