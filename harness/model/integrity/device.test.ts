import { describe, expect, it } from 'vitest';
import { countMismatches, EILSEQ, EINVAL, EIO, EOPNOTSUPP, IntegrityDeviceModel } from './device.ts';

const block = (fill: number, size = 4096) => Buffer.alloc(size, fill);

describe('IntegrityDeviceModel', () => {
  it('returns written bytes and zeros for never-written blocks after a wiping format', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: 800 });
    m.write(8, Buffer.concat([block(1), block(2)]));
    const r = m.expectRead(0, 4 * 4096);
    expect(r).toMatchObject({ ok: true, errno: 0, failingBlocks: [] });
    expect(r.data!.subarray(4096, 8192).equals(block(1))).toBe(true);
    expect(r.data!.subarray(0, 4096).equals(block(0))).toBe(true);
    expect(m.writtenBlocks()).toEqual([1, 2]);
  });

  it('fails the whole O_DIRECT request with EILSEQ when one block is corrupted; a rewrite heals it', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, block(7, 512 * 4));
    m.corrupt(2);
    expect(m.expectRead(0, 4 * 512)).toMatchObject({ ok: false, errno: EILSEQ, failingBlocks: [2] });
    expect(m.expectBlockRead(1).ok).toBe(true);
    expect(m.expectedMismatches()).toBe(1);
    expect(m.corruptedBlocks()).toEqual([2]);
    m.write(2, block(9, 512));
    expect(m.expectBlockRead(2)).toMatchObject({ ok: true, failingBlocks: [] });
    expect(m.corruptedBlocks()).toEqual([]);
  });

  it('fails never-written blocks after --no-wipe', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, wiped: false });
    m.write(1, block(3, 512));
    expect(m.expectBlockRead(0)).toMatchObject({ ok: false, errno: EILSEQ, failingBlocks: [0] });
    expect(m.expectBlockRead(1).ok).toBe(true);
    expect(m.expectedMismatches()).toBe(0); // not corruptions: the scenario counts such reads itself
  });

  it('discards: filler tags read back with unspecified data; data corruption under a filler goes unnoticed', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, allowDiscards: true });
    m.write(0, block(1, 512 * 4));
    m.discard(1, 2);
    expect(m.expectDiscard(1, 2)).toEqual({ ok: true, errno: 0 });
    const r = m.expectRead(0, 4 * 512);
    expect(r).toMatchObject({ ok: true, indeterminateBlocks: [1, 2] });
    m.corrupt(1, 'data');
    m.corrupt(2, 'tag');
    expect(m.expectBlockRead(1).ok).toBe(true);
    expect(m.expectBlockRead(2)).toMatchObject({ ok: false, errno: EILSEQ });
    expect(m.corruptedBlocks()).toEqual([2]);
  });

  it('has no discard without allow_discards', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, block(1, 512));
    expect(m.expectDiscard(0, 1)).toEqual({ ok: false, errno: EOPNOTSUPP });
    m.discard(0, 1);
    expect(m.expectBlockRead(0).data!.equals(block(1, 512))).toBe(true);
  });

  it('refuses unaligned or out-of-range requests', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: 64 });
    expect(() => m.write(4, block(1))).toThrow(/not aligned/);
    expect(() => m.write(0, block(1, 512))).toThrow(/multiple of the 4096-byte block/);
    expect(() => m.expectRead(56, 8192)).toThrow(/past the device end/);
    expect(() => m.corrupt(8)).toThrow(/outside the device/);
  });

  it('counts one mismatch per failed single-block read', () => {
    expect(countMismatches(3)).toBe(3);
    expect(() => countMismatches(-1)).toThrow();
  });
});

describe('IntegrityDeviceModel faults', () => {
  it('refuses misaligned O_DIRECT with EINVAL and leaves the device alone', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: 800 });
    expect(m.directIoProblem(512, 4096)).toEqual({ errno: EINVAL });
    expect(m.directIoProblem(4096, 100)).toEqual({ errno: EINVAL });
    expect(m.directIoProblem(8192, 4096)).toBeUndefined();
    expect(m.expectWrite(512, 4096)).toEqual({ ok: false, errno: EINVAL });
    expect(m.expectWrite(4096, 8192)).toEqual({ ok: true, errno: 0 });
  });

  it('a journal replay at activation undoes the host\'s changes to the blocks it writes again, and only to those', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, block(1, 512 * 8));
    m.corrupt(2);
    m.corrupt(6, 'tag');
    expect(m.replayJournal([6, 7])).toEqual([6]);
    expect(m.expectBlockRead(6)).toMatchObject({ ok: true });
    expect(m.expectBlockRead(2)).toMatchObject({ ok: false, errno: EILSEQ });
    expect(m.expectedMismatches()).toBe(1);
    expect(() => m.replayJournal([64])).toThrow();
  });

  it('fails blocks under a lower-device I/O error with EIO, never EILSEQ', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, block(1, 512 * 8));
    m.ioError(3);
    expect(m.expectBlockRead(3)).toMatchObject({ ok: false, errno: EIO, errnos: [EIO], failingBlocks: [3] });
    expect(m.expectRead(0, 8 * 512)).toMatchObject({ ok: false, errno: EIO, failingBlocks: [3] });
    expect(m.blockExpectation(3)).toMatchObject({ corrupted: false, mustFail: true, errno: EIO });
    expect(m.expectedMismatches()).toBe(0);
    m.corrupt(5);
    // one request over both: either part may end it
    expect(m.expectRead(0, 8 * 512)).toMatchObject({ ok: false, errnos: [EIO, EILSEQ], failingBlocks: [3, 5] });
    expect(() => m.expectWrite(3 * 512, 512)).toThrow(/not modelled/);
  });

  it('a broken journal commit id fails every activation with EIO; a data byte in the journal changes nothing', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, block(1, 512 * 2));
    m.corruptJournal('data');
    m.activate();
    expect(m.expectBlockRead(1)).toMatchObject({ ok: true });
    m.deactivate();
    m.corruptJournal('commit-id');
    m.activate();
    expect(m.expectRead(0, 2 * 512)).toMatchObject({ ok: false, errno: EIO, failingBlocks: [0, 1] });
    expect(m.expectWrite(0, 512)).toEqual({ ok: false, errno: EIO });
    m.write(0, block(9, 512)); // the kernel drops it
    m.deactivate();
    m.activate();
    expect(m.failedErrno).toBe(EIO);
    m.deactivate();
    expect(m.blockExpectation(0).state).toMatchObject({ kind: 'written', data: block(1, 512) });
  });

  it('a swap makes both blocks fail, unless the tag that moved in is a discard filler', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, allowDiscards: true });
    m.write(0, block(1, 512 * 8));
    m.swap(1, 2);
    expect(m.expectBlockRead(1)).toMatchObject({ ok: false, errno: EILSEQ });
    expect(m.expectBlockRead(2)).toMatchObject({ ok: false, errno: EILSEQ });
    expect(m.corruptedBlocks()).toEqual([1, 2]);
    m.discard(4, 1);
    m.swap(4, 5);
    expect(m.expectBlockRead(5)).toMatchObject({ ok: true, indeterminateBlocks: [5] });
    expect(m.expectBlockRead(4)).toMatchObject({ ok: false, errno: EILSEQ });
    expect(() => m.swap(6, 6)).toThrow(/itself/);
  });
});

describe('recalculation (--integrity-recalculate)', () => {
  it('makes never-written blocks of an unwiped device read as zeros and replaces flipped tags from its start on', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, wiped: false });
    expect(m.expectBlockRead(3).errno).toBe(84);
    m.write(0, Buffer.alloc(2 * 512, 7));
    m.corrupt(1, 'tag');
    m.corrupt(40, 'tag');
    m.recalculate(8);
    // below the start (an earlier recalculation's part) a flip made since stays; from it on, tags are new
    expect(m.expectBlockRead(1).errno).toBe(84);
    expect(m.expectBlockRead(40)).toMatchObject({ ok: true, data: Buffer.alloc(512) });
    m.recalculate();
    expect(m.expectBlockRead(1)).toMatchObject({ ok: true, data: Buffer.alloc(512, 7) });
    expect(m.expectBlockRead(3)).toMatchObject({ ok: true, data: Buffer.alloc(512) });
    expect(m.wiped).toBe(true);
  });

  it('refuses to recalculate over a block whose data the host changed', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, Buffer.alloc(512, 1));
    m.corrupt(0, 'data');
    expect(() => m.recalculate()).toThrow(/block 0, whose data the host changed/);
  });
});

describe('recovery mode (table mode R)', () => {
  const flipped = (b: Buffer, at: number) => { const c = Buffer.from(b); c[at] = c[at]! ^ 0xff; return c; };

  it('reads back the bytes the host left, without EILSEQ, and normal mode fails them again', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(0, Buffer.concat([block(1, 512), block(2, 512), block(3, 512)]));
    m.corrupt(0, 'data', 5);
    m.corrupt(1, 'tag');
    m.deactivate();
    m.activate({ recovery: true });
    expect(m.recovery).toBe(true);
    const r = m.expectRead(0, 4 * 512);
    expect(r).toMatchObject({ ok: true, errno: 0, failingBlocks: [], indeterminateBlocks: [] });
    expect(r.data!.subarray(0, 512).equals(flipped(block(1, 512), 5))).toBe(true);
    expect(r.data!.subarray(512, 1024).equals(block(2, 512))).toBe(true);
    expect(r.data!.subarray(1536).equals(block(0, 512))).toBe(true);
    expect(m.blockExpectation(0)).toMatchObject({ corrupted: true, mustFail: false, errno: 0 });
    m.deactivate();
    m.activate();
    expect(m.expectRead(0, 3 * 512)).toMatchObject({ ok: false, errno: EILSEQ, failingBlocks: [0, 1] });
  });

  it('refuses writes and discards with EIO and changes nothing; a flush succeeds', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: 800, allowDiscards: true });
    m.write(8, block(4));
    m.corrupt(1);
    m.activate({ recovery: true });
    expect(m.expectWrite(4096, 4096)).toEqual({ ok: false, errno: EIO });
    expect(m.expectDiscard(8, 8)).toEqual({ ok: false, errno: EIO });
    expect(m.expectFlush()).toEqual({ ok: true, errno: 0 });
    m.write(8, block(9));
    m.discard(8, 8);
    expect(m.expectBlockRead(1).data!.equals(flipped(block(4), 0))).toBe(true);
    // unaligned requests are still the block layer's EINVAL
    expect(m.expectWrite(512, 4096)).toEqual({ ok: false, errno: EINVAL });
    m.activate();
    expect(m.expectBlockRead(1)).toMatchObject({ ok: false, errno: EILSEQ });
  });

  it('replays no journal, so a broken commit id fails nothing, and the next normal open replays', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    m.write(6, block(6, 512));
    m.corrupt(6);
    m.corruptJournal('commit-id');
    m.activate({ recovery: true });
    expect(m.failedErrno).toBe(0);
    expect(() => m.replayJournal([6])).toThrow(/replays no journal/);
    expect(m.expectBlockRead(6)).toMatchObject({ ok: true, data: flipped(block(6, 512), 0) });
    m.deactivate();
    m.activate();
    expect(m.failedErrno).toBe(EIO);
    const healthy = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64 });
    healthy.write(6, block(6, 512));
    healthy.corrupt(6);
    healthy.activate();
    expect(healthy.replayJournal([6])).toEqual([6]);
    healthy.activate({ recovery: true });
    expect(healthy.expectBlockRead(6)).toMatchObject({ ok: true, data: block(6, 512) });
  });

  it('follows swapped blocks, an I/O error below, and blocks whose bytes are unknown', () => {
    const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, allowDiscards: true });
    m.write(0, Buffer.concat([block(1, 512), block(2, 512)]));
    m.discard(3, 1);
    m.swap(0, 1);
    m.corrupt(3);
    m.ioError(5);
    m.activate({ recovery: true });
    expect(m.expectRead(0, 2 * 512).data!.equals(Buffer.concat([block(2, 512), block(1, 512)]))).toBe(true);
    expect(m.expectBlockRead(3)).toMatchObject({ ok: true, indeterminateBlocks: [3] });
    expect(m.expectBlockRead(5)).toMatchObject({ ok: false, errno: EIO });
    // never written: zeros, also without a wiping format
    const raw = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, wiped: false });
    raw.activate({ recovery: true });
    expect(raw.expectBlockRead(9)).toMatchObject({ ok: true, data: block(0, 512) });
  });
});
