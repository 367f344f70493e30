import { describe, expect, it } from 'vitest';
import { parseIoReport } from '../../../vm/agent/client.ts';
import { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { blockDigest } from './host-images.ts';
import type { ObservedBlock } from './observations.ts';
import { blockList, judgeRead, judgeUnalignedRead } from './read-judge.ts';

/** What the host observes of a read's output: each 512-byte block's digest, and its bytes unless `digestOnly`. */
function observed(bytes: Buffer, digestOnly = false): ObservedBlock[] {
  const out: ObservedBlock[] = [];
  for (let o = 0; o < bytes.length; o += 512) {
    const b = bytes.subarray(o, o + 512);
    out.push({ sha256: blockDigest(b), ...(digestOnly ? {} : { hex: b.toString('hex') }) });
  }
  return out;
}

const line = (o: Record<string, unknown>) => JSON.stringify({ us: 1, ...o });

function model() {
  const m = new IntegrityDeviceModel({ sectorsPerBlock: 1, providedDataSectors: 64, wiped: false });
  m.write(0, Buffer.alloc(8 * 512, 0x11));
  m.corrupt(2, 'tag');
  return m;
}

describe('judgeRead', () => {
  it('agrees when the one-I/O read fails and the block re-reads fail exactly where the model says', () => {
    const report = parseIoReport([
      line({ op: 'read', off: 0, len: 4096, ok: false, errno: 84, error: 'EILSEQ', bad_blocks: 1 }),
      line({ op: 'block', off: 1024, len: 512, ok: false, errno: 84, error: 'EILSEQ' }),
    ].join('\n'));
    const got = Buffer.alloc(4096, 0x11);
    got.fill(0, 1024, 1536);
    const j = judgeRead(model(), { step: 3, offset: 0, length: 4096, bs: 4096 }, report, observed(got));
    expect(j.disagreements).toEqual([]);
    expect(j.failed).toEqual([{ block: 2, errno: 84 }]);
    // the whole read and the re-read of block 2 each count one checksum failure; the model's own: 1
    expect(j.checksum.map((c) => [c.min, c.max, c.sectors])).toEqual([[1, 1, [2]], [1, 1, [2]]]);
    expect(j.modelChecksum).toEqual([{ min: 2, max: 2 }]);
    expect(j.expectedFailing).toEqual([2]);
  });

  it('reports silent acceptance, a false alarm, a wrong errno and wrong bytes', () => {
    const report = parseIoReport([
      line({ op: 'read', off: 0, len: 512, ok: true, errno: 0 }), // block 0: fine but bytes differ below
      line({ op: 'read', off: 512, len: 512, ok: false, errno: 84, error: 'EILSEQ' }), // block 1: false alarm
      line({ op: 'read', off: 1024, len: 512, ok: true, errno: 0 }), // block 2: corrupted, yet read
      line({ op: 'read', off: 4096, len: 512, ok: false, errno: 5, error: 'EIO' }), // block 8: never written, wrong errno
    ].join('\n'));
    const got = Buffer.alloc(4608, 0x11);
    got[7] = 0x12;
    const m = model();
    const j = judgeRead(m, { step: 1, offset: 0, length: 1536, bs: 512 }, report, observed(got.subarray(0, 1536)));
    expect(j.disagreements.map((d) => [d.kind, d.block])).toEqual([['data-mismatch', 0], ['false-alarm', 1], ['silent-acceptance', 2]]);
    const k = judgeRead(m, { step: 1, offset: 4096, length: 512, bs: 512 }, report, observed(Buffer.alloc(512)));
    expect(k.disagreements).toEqual([expect.objectContaining({ kind: 'wrong-errno', block: 8, expected: 'errno 84', found: 'errno 5' })]);
  });

  it('reports I/Os ih-io said nothing about and short reads, for the caller to classify', () => {
    const j = judgeRead(model(), { step: 0, offset: 0, length: 1024, bs: 512 }, parseIoReport(line({ op: 'read', off: 0, len: 512, ok: false, errno: 0, error: 'EOF' })), observed(Buffer.alloc(1024)));
    expect(j.shortReads).toEqual([0]);
    expect(j.missing).toEqual([512]);
  });

  it('judges a block whose bytes were not kept by its digest alone', () => {
    const report = parseIoReport(line({ op: 'read', off: 0, len: 1024, ok: true, errno: 0 }));
    const got = Buffer.alloc(1024, 0x11);
    expect(judgeRead(model(), { step: 2, offset: 0, length: 1024, bs: 1024 }, report, observed(got, true)).disagreements).toEqual([]);
    got[600] = 0;
    const j = judgeRead(model(), { step: 2, offset: 0, length: 1024, bs: 1024 }, report, observed(got, true));
    expect(j.disagreements).toEqual([expect.objectContaining({ kind: 'data-mismatch', block: 1, found: expect.stringMatching(/^sha256 [0-9a-f]{16} \(bytes not kept\)$/) })]);
  });

  it('lists blocks compactly', () => {
    expect(blockList([1024, 3, 700, 701, 702, 3])).toBe('3, 700-702, 1024');
  });
});

describe('judgeUnalignedRead', () => {
  const m = () => new IntegrityDeviceModel({ sectorsPerBlock: 8, providedDataSectors: 64, wiped: false });
  const at = (off: number, o: Record<string, unknown>) => parseIoReport(line({ op: 'read', off, len: 512, ...o }));

  it('wants EINVAL where the logical block size does not divide the offset or the length', () => {
    expect(judgeUnalignedRead(m(), { step: 2, offset: 512, length: 512 }, at(512, { ok: false, errno: 22, error: 'EINVAL' })).disagreements).toEqual([]);
    expect(judgeUnalignedRead(m(), { step: 2, offset: 512, length: 512 }, at(512, { ok: true, errno: 0 })).disagreements).toEqual([
      { step: 2, kind: 'unaligned-io', sector: 1, expected: 'errno 22', found: 'read succeeded' }]);
    expect(judgeUnalignedRead(m(), { step: 2, offset: 4096, length: 4096 }, at(4096, { ok: false, errno: 22, error: 'EINVAL' })).disagreements).toEqual([
      { step: 2, kind: 'unaligned-io', sector: 8, expected: 'read succeeds', found: 'errno 22' }]);
  });

  it('leaves a report with nothing for the offset to the caller', () => {
    expect(judgeUnalignedRead(m(), { step: 2, offset: 512, length: 512 }, at(0, { ok: true, errno: 0 }))).toEqual({ disagreements: [] });
  });
});
