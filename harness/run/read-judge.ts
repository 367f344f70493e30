/**
 * Judges one `ih-io read` against the device model: per I/O, did it fail exactly when the model says, with
 * the errno it says; per block (ih-io re-reads a failed I/O block by block), which blocks failed; and
 * every block that read back holds the bytes the model expects. Pure: the caller records what it returns.
 */
import type { IoEvent, IoReport } from '../../vm/agent/client.ts';
import type { IntegrityDeviceModel } from '../model/integrity/device.ts';
import type { Disagreement } from './observations.ts';

export interface ReadJudgement {
  disagreements: Disagreement[];
  /** blocks the guest saw fail (errno != 0), in order */
  failedBlocks: number[];
  /** errno per failed block, parallel to failedBlocks */
  failedErrnos: number[];
  /** blocks the model said must fail */
  expectedFailing: number[];
  /** I/Os that ended short without an errno (EOF): the caller decides what that means */
  shortReads: number[];
  /** offsets ih-io reported nothing for */
  missing: number[];
}

export interface ReadRequest {
  step: number;
  /** byte offset and length on the top device, and the size of each I/O */
  offset: number;
  length: number;
  bs: number;
}

export function judgeRead(model: IntegrityDeviceModel, req: ReadRequest, report: IoReport, got: Buffer): ReadJudgement {
  const out: ReadJudgement = { disagreements: [], failedBlocks: [], failedErrnos: [], expectedFailing: [], shortReads: [], missing: [] };
  const bsz = model.blockSize;
  const ios = new Map(report.ios.filter((l) => l.op === 'read').map((l) => [l.off, l]));
  const blocks = new Map(report.blocks.map((l) => [l.off, l]));
  const d = (x: Omit<Disagreement, 'step'>) => out.disagreements.push({ step: req.step, ...x });
  for (let off = req.offset; off < req.offset + req.length; off += req.bs) {
    const io = ios.get(off);
    if (io === undefined) { out.missing.push(off); continue; }
    if (!io.ok && io.errno === 0) { out.shortReads.push(off); continue; }
    const exp = model.expectRead(off / 512, req.bs);
    out.expectedFailing.push(...exp.failingBlocks);
    const firstBlock = off / bsz;
    if (exp.ok && io.errno !== 0) {
      d({ kind: 'false-alarm', block: firstBlock, sector: off / 512, expected: `${req.bs} bytes read`, found: `errno ${io.errno}` });
    } else if (!exp.ok && io.errno === 0) {
      d({ kind: 'silent-acceptance', block: exp.failingBlocks[0], sector: exp.failingBlocks[0]! * (bsz / 512), expected: `errno ${exp.errno} (blocks ${exp.failingBlocks.join(', ')})`, found: 'read succeeded' });
    } else if (!exp.ok && io.errno !== exp.errno) {
      d({ kind: 'wrong-errno', block: firstBlock, sector: off / 512, expected: `errno ${exp.errno}`, found: `errno ${io.errno}` });
    }
    const failing = new Set(exp.failingBlocks);
    const n = req.bs / bsz;
    for (let b = 0; b < n; b++) {
      const block = firstBlock + b;
      const bOff = off + b * bsz;
      const errno = blockErrno(io, n, blocks.get(bOff));
      if (errno !== 0) { out.failedBlocks.push(block); out.failedErrnos.push(errno); }
      const mustFail = failing.has(block);
      // the I/O-level verdict above already covers a single-block I/O and a multi-block one that succeeded
      if (io.errno !== 0 && n > 1 && mustFail !== (errno !== 0)) {
        d({ kind: mustFail ? 'silent-acceptance' : 'false-alarm', block, sector: bOff / 512,
          expected: mustFail ? `errno ${exp.errno}` : 'block reads', found: errno !== 0 ? `errno ${errno}` : 'block read' });
      }
      if (errno !== 0 || mustFail) continue;
      const want = model.expectBlockRead(block);
      if (!want.ok || want.data === undefined || want.indeterminateBlocks.includes(block)) continue;
      const seen = got.subarray(bOff - req.offset, bOff - req.offset + bsz);
      if (!seen.equals(want.data)) {
        const at = firstDiff(seen, want.data);
        d({ kind: 'data-mismatch', block, sector: bOff / 512, expected: `byte ${at} = 0x${hex(want.data[at])}`, found: `0x${hex(seen[at])}` });
      }
    }
  }
  return out;
}

/** A block's errno: the I/O's for a one-block I/O or a successful one, else what ih-io's re-read found. */
function blockErrno(io: IoEvent, blocksInIo: number, reread: IoEvent | undefined): number {
  if (io.errno === 0 || blocksInIo === 1) return io.errno;
  return reread?.errno ?? 0;
}

function firstDiff(a: Buffer, b: Buffer): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return Math.min(a.length, b.length);
}

const hex = (n: number | undefined) => (n ?? 0).toString(16).padStart(2, '0');

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
