/**
 * Typed view of `ih-io unstable`'s stdout (io-race.c): one line per write ("uw"), one per block read back
 * after it ("ub"), then a summary. Offsets become 512-byte sectors and each read's sectors one entry each, as
 * the model (harness/model/integrity/unstable.ts) takes them.
 */
import { z } from 'zod';
import { IoReportError, parseReportLine } from './io-report.ts';
import { raceSetupLine } from './race-report.ts';
import type { UnstableBlockRead, UnstableSector, UnstableWrite } from '../../harness/model/integrity/unstable.ts';

const n = z.number().int().nonnegative();
const write = z.object({ op: z.literal('uw'), k: n, off: n, len: n, t0: n, t1: n, errno: n, versions: n, mut: n });
const block = z.object({ op: z.literal('ub'), k: n, off: n, len: n, errno: n, v: z.string().optional() });
const summary = z.object({ op: z.literal('unstable-summary'), ok: z.boolean(), engine: z.enum(['aio', 'sync']), writes: n, mutated: n, elapsed_us: n });
const line = z.discriminatedUnion('op', [write, block, summary, raceSetupLine]);

export interface UnstableSummary {
  ok: boolean;
  /** aio: each write submitted through native AIO; sync: pwrite (the kernel has no AIO) */
  engine: 'aio' | 'sync';
  writes: number;
  /** writes whose buffer the mutator changed between submission and completion */
  mutated: number;
  elapsedUs: number;
}

export interface UnstableReport {
  writes: UnstableWrite[];
  reads: UnstableBlockRead[];
  summary?: UnstableSummary;
  setupError?: { what: string; path: string; errno: number; error?: string };
}

/** "0 3 x<1024 hex digits> 7": one entry per sector, `sectors` of them. */
export function decodeUnstableSectors(v: string, sectors: number, at: string): UnstableSector[] {
  const out = v.split(' ').filter((t) => t !== '').map((tok): UnstableSector => {
    if (/^\d+$/.test(tok)) return { kind: 'version', v: Number(tok) };
    if (/^x[0-9a-f]{1024}$/.test(tok)) return { kind: 'bytes', bytes: Buffer.from(tok.slice(1), 'hex') };
    throw new IoReportError(`ih-io unstable ${at}: a sector this parser cannot read: '${tok.slice(0, 40)}'`);
  });
  if (out.length !== sectors) throw new IoReportError(`ih-io unstable ${at}: ${out.length} sectors for ${sectors}`);
  return out;
}

/** Parse `ih-io unstable`'s JSON lines. Throws IoReportError on anything that is not a known line. */
export function parseUnstableReport(stdout: Uint8Array | string): UnstableReport {
  const report: UnstableReport = { writes: [], reads: [] };
  (typeof stdout === 'string' ? stdout : Buffer.from(stdout).toString('utf8')).split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const l = parseReportLine(line, text, i + 1, 'ih-io unstable');
    if (l.op === 'uw') {
      report.writes.push({ k: l.k, sector: l.off / 512, sectors: l.len / 512, t0: l.t0, t1: l.t1, errno: l.errno, versions: l.versions, mutated: l.mut });
    } else if (l.op === 'ub') {
      const r: UnstableBlockRead = { k: l.k, sector: l.off / 512, errno: l.errno };
      if (l.v !== undefined) r.sectors = decodeUnstableSectors(l.v, l.len / 512, `line ${i + 1}`);
      report.reads.push(r);
    } else if (l.op === 'unstable-summary') {
      report.summary = { ok: l.ok, engine: l.engine, writes: l.writes, mutated: l.mutated, elapsedUs: l.elapsed_us };
    } else {
      report.setupError = { what: l.what, path: l.path, errno: l.errno, ...(l.error !== undefined ? { error: l.error } : {}) };
    }
  });
  return report;
}
