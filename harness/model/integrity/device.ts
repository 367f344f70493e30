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
 */
import { ModelInputError } from '../errors.ts';

export const EILSEQ = 84;
export const EIO = 5;
export const EOPNOTSUPP = 95;

export interface ExpectedRead {
  ok: boolean;
  /** 0 | 84 EILSEQ | 5 EIO */
  errno: number;
  /** when ok: the bytes the read must return; blocks listed in `indeterminateBlocks` are zero-filled here */
  data?: Buffer;
  /** block indices (sector / sectorsPerBlock) that must fail */
  failingBlocks: number[];
  /** blocks whose content is unspecified (discarded): any bytes are correct */
  indeterminateBlocks: number[];
}

export type BlockState =
  | { kind: 'unwritten' }
  | { kind: 'written'; data: Buffer }
  | { kind: 'discarded' };

export interface BlockExpectation {
  state: BlockState;
  /** a host corruption is in effect and the kernel must detect it */
  corrupted: boolean;
  /** 'data' | 'tag': which part the host corrupted (when corrupted or masked) */
  corruptedWhere?: 'data' | 'tag';
  /** a read of this block alone must fail */
  mustFail: boolean;
}

export class IntegrityDeviceModel {
  readonly sectorsPerBlock: number;
  readonly providedDataSectors: number;
  readonly allowDiscards: boolean;
  /** never-written blocks were wiped at format time (the default for integritysetup/cryptsetup) */
  readonly wiped: boolean;
  readonly blockSize: number;
  readonly blocks: number;
  private readonly state = new Map<number, BlockState>();
  private readonly corruption = new Map<number, 'data' | 'tag'>();

  constructor(p: { sectorsPerBlock: number; providedDataSectors: number; allowDiscards?: boolean; wiped?: boolean }) {
    if (![1, 2, 4, 8].includes(p.sectorsPerBlock)) throw new ModelInputError(`sectorsPerBlock must be 1, 2, 4 or 8, got ${p.sectorsPerBlock}`);
    if (!Number.isSafeInteger(p.providedDataSectors) || p.providedDataSectors <= 0 || p.providedDataSectors % p.sectorsPerBlock) {
      throw new ModelInputError(`providedDataSectors must be a positive multiple of ${p.sectorsPerBlock}, got ${p.providedDataSectors}`);
    }
    this.sectorsPerBlock = p.sectorsPerBlock;
    this.providedDataSectors = p.providedDataSectors;
    this.allowDiscards = p.allowDiscards ?? false;
    this.wiped = p.wiped ?? true;
    this.blockSize = p.sectorsPerBlock * 512;
    this.blocks = p.providedDataSectors / p.sectorsPerBlock;
  }

  write(sector: number, data: Buffer): void {
    const first = this.blockRange(sector, data.length, 'write');
    for (let i = 0; i * this.blockSize < data.length; i++) {
      const b = first + i;
      this.state.set(b, { kind: 'written', data: Buffer.from(data.subarray(i * this.blockSize, (i + 1) * this.blockSize)) });
      this.corruption.delete(b);
    }
  }

  /** What a discard request must return. */
  expectDiscard(sector: number, sectors: number): { ok: boolean; errno: number } {
    this.blockRange(sector, sectors * 512, 'discard');
    return this.allowDiscards ? { ok: true, errno: 0 } : { ok: false, errno: EOPNOTSUPP };
  }

  /** Applies a discard; a no-op when the device has no allow_discards (the request fails, see expectDiscard). */
  discard(sector: number, sectors: number): void {
    const first = this.blockRange(sector, sectors * 512, 'discard');
    if (!this.allowDiscards) return;
    for (let b = first; b < first + sectors / this.sectorsPerBlock; b++) {
      this.state.set(b, { kind: 'discarded' });
      this.corruption.delete(b);
    }
  }

  /** A host-side corruption of the block's data (default) or tag, made while the device is inactive. */
  corrupt(block: number, where: 'data' | 'tag' = 'data'): void {
    this.checkBlock(block);
    const prev = this.corruption.get(block);
    // a data and a tag corruption together still fail; keep 'tag' since it fails even when discarded
    this.corruption.set(block, prev === 'tag' ? 'tag' : where);
  }

  blockExpectation(block: number): BlockExpectation {
    this.checkBlock(block);
    const state = this.state.get(block) ?? { kind: 'unwritten' };
    const where = this.corruption.get(block);
    // a corrupted data block under a filler tag still passes: the filler accepts any data
    const corrupted = where !== undefined && !(state.kind === 'discarded' && where === 'data');
    const unwrittenFails = state.kind === 'unwritten' && !this.wiped;
    return { state, corrupted, corruptedWhere: where, mustFail: corrupted || unwrittenFails };
  }

  /** O_DIRECT read of `lengthBytes` bytes at 512-byte `sector`: any failing block fails the whole request. */
  expectRead(sector: number, lengthBytes: number): ExpectedRead {
    const first = this.blockRange(sector, lengthBytes, 'read');
    const n = lengthBytes / this.blockSize;
    const failingBlocks: number[] = [];
    const indeterminateBlocks: number[] = [];
    const data = Buffer.alloc(lengthBytes);
    for (let i = 0; i < n; i++) {
      const e = this.blockExpectation(first + i);
      if (e.mustFail) failingBlocks.push(first + i);
      else if (e.state.kind === 'written') e.state.data.copy(data, i * this.blockSize);
      else if (e.state.kind === 'discarded') indeterminateBlocks.push(first + i);
    }
    if (failingBlocks.length) return { ok: false, errno: EILSEQ, failingBlocks, indeterminateBlocks: [] };
    return { ok: true, errno: 0, data, failingBlocks, indeterminateBlocks };
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
