/**
 * Judges one `ih-io read` against the device model: per I/O, did it fail exactly when the model says, with an
 * errno it allows; per block (ih-io re-reads a failed I/O block by block), which blocks failed and with what;
 * and every block that read back holds the bytes the model expects. Pure: the caller records what it returns.
 * The output disk's blocks come as observations (host-images.ts), so a stored run is judged the same way.
 */
import type { IoEvent, IoReport } from '../../../vm/agent/client.ts';
import { EILSEQ, type IntegrityDeviceModel } from '../../model/integrity/device.ts';
import { checksumLineSector } from '../../model/integrity/log.ts';
import { blockDifference } from './host-images.ts';
import type { Disagreement } from '../../verdict/types.ts';
import type { ObservedBlock } from './observations.ts';

/** Checksum-failure events a read makes dm-integrity count (mismatch counter, log lines): a range, as a bio may split. */
export interface ChecksumEvents {
  min: number;
  max: number;
  /** sectors a "Checksum failed" line may name */
  sectors: number[];
}

export interface ReadJudgement {
  disagreements: Disagreement[];
  /** blocks the guest saw fail, with the errno, in order */
  failed: Array<{ block: number; errno: number }>;
  /** blocks the model said must fail */
  expectedFailing: number[];
  /** I/Os that ended short without an errno (EOF): the caller decides what that means */
  shortReads: number[];
  /** offsets ih-io reported nothing for */
  missing: number[];
  /** what the kernel's failures make dm-integrity count */
  checksum: ChecksumEvents[];
  /** what the failures the model expects would make it count (the reproducer's check replays the model's) */
  modelChecksum: Array<Omit<ChecksumEvents, 'sectors'>>;
}

export interface ReadRequest {
  step: number;
  /** byte offset and length on the top device, and the size of each I/O */
  offset: number;
  length: number;
  bs: number;
}

/** What the model expects of each block a read returns (undefined: it must fail, or any bytes will do). */
export function expectedBlockData(model: IntegrityDeviceModel, req: Pick<ReadRequest, 'offset'>): (i: number) => Buffer | undefined {
  return (i) => {
    const block = req.offset / model.blockSize + i;
    const want = model.expectBlockRead(block);
    return want.ok && !want.indeterminateBlocks.includes(block) ? want.data : undefined;
  };
}

export function judgeRead(model: IntegrityDeviceModel, req: ReadRequest, report: IoReport, got: readonly ObservedBlock[]): ReadJudgement {
  const out: ReadJudgement = { disagreements: [], failed: [], expectedFailing: [], shortReads: [], missing: [], checksum: [], modelChecksum: [] };
  const bsz = model.blockSize;
  const spb = model.sectorsPerBlock;
  const ios = new Map(report.ios.filter((l) => l.op === 'read').map((l) => [l.off, l]));
  const reread = new Map(report.blocks.map((l) => [l.off, l]));
  const d = (x: Omit<Disagreement, 'step'>) => out.disagreements.push({ step: req.step, ...x });
  for (let off = req.offset; off < req.offset + req.length; off += req.bs) {
    const io = ios.get(off);
    if (io === undefined) { out.missing.push(off); continue; }
    if (!io.ok && io.errno === 0) { out.shortReads.push(off); continue; }
    const exp = model.expectRead(off / 512, req.bs);
    out.expectedFailing.push(...exp.failingBlocks);
    const firstBlock = off / bsz;
    const n = req.bs / bsz;
    if (exp.ok && io.errno !== 0) {
      d({ kind: 'false-alarm', block: firstBlock, sector: off / 512, expected: `${req.bs} bytes read`, found: `errno ${io.errno}` });
    } else if (!exp.ok && io.errno === 0) {
      d({ kind: 'silent-acceptance', block: exp.failingBlocks[0], sector: exp.failingBlocks[0]! * spb, expected: `errno ${exp.errnos.join('|')} (blocks ${exp.failingBlocks.join(', ')})`, found: 'read succeeded' });
    } else if (!exp.ok && !exp.errnos.includes(io.errno)) {
      d({ kind: 'wrong-errno', block: firstBlock, sector: off / 512, expected: `errno ${exp.errnos.join('|')}`, found: `errno ${io.errno}` });
    }
    // Checksum events: one per failing dm-integrity bio. A one-block request is one bio; a larger one may be
    // split, each piece with a bad block counting once; if an EIO piece can end it first, none may count.
    const eilseq = exp.failingBlocks.filter((b) => model.blockExpectation(b).errno === EILSEQ);
    if (!exp.ok && eilseq.length > 0) {
      out.modelChecksum.push(n === 1 ? { min: 1, max: 1 } : { min: (exp.errnos.length === 1 ? 1 : 0) + eilseq.length, max: eilseq.length * 2 });
    }
    if (io.errno !== 0 && eilseq.length > 0) {
      const sectors = eilseq.map((b) => checksumLineSector(b, spb));
      out.checksum.push(n === 1 ? { min: 1, max: 1, sectors } : { min: exp.errnos.length === 1 ? 1 : 0, max: eilseq.length, sectors });
    }
    const failing = new Set(exp.failingBlocks);
    for (let b = 0; b < n; b++) {
      const block = firstBlock + b;
      const bOff = off + b * bsz;
      const e = model.blockExpectation(block);
      const errno = blockErrno(io, n, reread.get(bOff));
      if (errno !== 0) out.failed.push({ block, errno });
      const mustFail = failing.has(block);
      // the I/O-level verdict above covers a single-block I/O and a multi-block one that succeeded
      if (io.errno !== 0 && n > 1) {
        // ih-io re-reads each block of a failed multi-block request alone: one more bio per bad block
        if (e.errno === EILSEQ) out.checksum.push({ min: 1, max: 1, sectors: [checksumLineSector(block, spb)] });
        if (mustFail !== (errno !== 0)) {
          d({ kind: mustFail ? 'silent-acceptance' : 'false-alarm', block, sector: bOff / 512,
            expected: mustFail ? `errno ${e.errno}` : 'block reads', found: errno !== 0 ? `errno ${errno}` : 'block read' });
        } else if (mustFail && errno !== e.errno) {
          d({ kind: 'wrong-errno', block, sector: bOff / 512, expected: `errno ${e.errno}`, found: `errno ${errno}` });
        }
      }
      if (errno !== 0 || mustFail || exp.indeterminateBlocks.includes(block)) continue;
      const want = model.expectBlockRead(block);
      if (!want.ok || want.data === undefined || want.indeterminateBlocks.includes(block)) continue;
      const seen = got[(bOff - req.offset) / bsz];
      if (seen === undefined) { out.missing.push(bOff); continue; }
      const diff = blockDifference(seen, want.data);
      if (diff !== undefined) d({ kind: 'data-mismatch', block, sector: bOff / 512, ...diff });
    }
  }
  return out;
}

/**
 * An O_DIRECT read at an offset or of a length the device's logical block size does not divide: it must fail
 * with the errno the model's direct-I/O rules give (or succeed where they find nothing wrong). `io` is
 * undefined when ih-io reported nothing for the offset (the caller's infrastructure error).
 */
export function judgeUnalignedRead(model: IntegrityDeviceModel, req: Pick<ReadRequest, 'step' | 'offset' | 'length'>, report: IoReport): { io?: IoEvent; disagreements: Disagreement[] } {
  const io = report.ios.find((l) => l.op === 'read' && l.off === req.offset);
  if (io === undefined) return { disagreements: [] };
  const want = model.directIoProblem(req.offset, req.length)?.errno ?? 0;
  if (io.errno === want) return { io, disagreements: [] };
  return { io, disagreements: [{ step: req.step, kind: 'unaligned-io', sector: Math.floor(req.offset / 512), expected: want ? `errno ${want}` : 'read succeeds', found: io.ok ? 'read succeeded' : `errno ${io.errno}` }] };
}

/** A block's errno: the I/O's for a one-block I/O or a successful one, else what ih-io's re-read found. */
function blockErrno(io: IoEvent, blocksInIo: number, reread: IoEvent | undefined): number {
  if (io.errno === 0 || blocksInIo === 1) return io.errno;
  return reread?.errno ?? 0;
}

/** "3, 700-702, 1024": a short list of block numbers for notes. */
export function blockList(blocks: number[]): string {
  const sorted = [...new Set(blocks)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
