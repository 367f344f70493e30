/**
 * Typed view of `ih-io race`'s stdout (io-race.c): one line per I/O of the race, the whole range read
 * before ("initial") and after it ("final"), the churn's dmsetup commands ("dm"), then a summary. Offsets become 512-byte sectors and each read's
 * run-length coded versions one entry per sector, as the model (harness/model/integrity/race.ts) takes them.
 */
import { z } from 'zod';
import { IoReportError, parseReportLine } from './io-report.ts';
import type { RaceDmCommand, RaceIo, RaceWhole, SectorVersion } from '../../harness/model/integrity/race.ts';

const n = z.number().int().nonnegative();
const io = z.object({
  op: z.enum(['rw', 'rr']), w: n, k: n, off: n, len: n, t0: n, t1: n, errno: n,
  error: z.string().optional(), short: n.optional(), v: z.string().optional(),
});
const whole = z.object({ op: z.enum(['initial', 'final']), off: n, len: n, t0: n, t1: n, errno: n, v: z.string().optional() });
const summary = z.object({
  op: z.literal('race-summary'), ok: z.boolean(), engine: z.enum(['aio', 'sync']), procs: n, ops: n, qd: n, died: n, elapsed_us: n,
});
const dm = z.object({
  op: z.literal('dm'), round: n, cmd: z.enum(['suspend', 'reload', 'resume']), flags: z.string(), t0: n, t1: n, exit: z.number().int(), signal: n.optional(),
});
/** io-race.c's race_setup_error line, which `ih-io unstable` prints too. */
export const raceSetupLine = z.object({ op: z.literal('setup'), ok: z.literal(false), what: z.string(), path: z.string(), errno: n, error: z.string().optional() });
const line = z.discriminatedUnion('op', [io, whole, summary, dm, raceSetupLine]);

export type { RaceDmCommand, RaceIo, RaceWhole, SectorVersion };

export interface RaceSummary {
  ok: boolean;
  /** aio: native AIO with qd requests in flight per process; sync: one pread/pwrite at a time */
  engine: 'aio' | 'sync';
  procs: number;
  ops: number;
  qd: number;
  /** racing processes that did not exit 0 */
  died: number;
  elapsedUs: number;
}

export interface RaceReport {
  initial?: RaceWhole;
  final?: RaceWhole;
  writes: RaceIo[];
  reads: RaceIo[];
  /** the churn's dmsetup commands, in the order they ran */
  dm: RaceDmCommand[];
  summary?: RaceSummary;
  setupError?: { what: string; path: string; errno: number; error?: string };
}

/** "1.4*8 p*8 h0123456789abcdef": one version per sector, `sectors` of them. */
export function decodeVersions(v: string, sectors: number, at: string): SectorVersion[] {
  const out: SectorVersion[] = [];
  for (const tok of v.split(' ').filter((t) => t !== '')) {
    const m = /^(?:(\d+)\.(\d+)|(p)|h([0-9a-f]{16}))(?:\*(\d+))?$/.exec(tok);
    if (m === null) throw new IoReportError(`ih-io race ${at}: a version this parser cannot read: '${tok}'`);
    const one: SectorVersion = m[1] !== undefined ? { kind: 'write', writer: Number(m[1]), seq: Number(m[2]) } : m[3] ? { kind: 'pre' } : { kind: 'other', hash: m[4]! };
    const count = m[5] === undefined ? 1 : Number(m[5]);
    for (let i = 0; i < count; i++) out.push(one);
  }
  if (out.length !== sectors) throw new IoReportError(`ih-io race ${at}: ${out.length} versions for ${sectors} sectors`);
  return out;
}

/** Parse `ih-io race`'s JSON lines. Throws IoReportError on anything that is not a known line. */
export function parseRaceReport(stdout: Uint8Array | string): RaceReport {
  const report: RaceReport = { writes: [], reads: [], dm: [] };
  (typeof stdout === 'string' ? stdout : Buffer.from(stdout).toString('utf8')).split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    const l = parseReportLine(line, text, i + 1, 'ih-io race');
    const at = `line ${i + 1}`;
    if (l.op === 'rw' || l.op === 'rr') {
      const x: RaceIo = { writer: l.w, seq: l.k, sector: l.off / 512, sectors: l.len / 512, t0: l.t0, t1: l.t1, errno: l.errno };
      if (l.short !== undefined) x.short = l.short;
      if (l.v !== undefined) x.versions = decodeVersions(l.v, x.sectors, at);
      (l.op === 'rw' ? report.writes : report.reads).push(x);
    } else if (l.op === 'initial' || l.op === 'final') {
      const x: RaceWhole = { sector: l.off / 512, sectors: l.len / 512, t0: l.t0, t1: l.t1, errno: l.errno };
      if (l.v !== undefined) x.versions = decodeVersions(l.v, x.sectors, at);
      report[l.op] = x;
    } else if (l.op === 'race-summary') {
      report.summary = { ok: l.ok, engine: l.engine, procs: l.procs, ops: l.ops, qd: l.qd, died: l.died, elapsedUs: l.elapsed_us };
    } else if (l.op === 'dm') {
      report.dm.push({ round: l.round, cmd: l.cmd, flags: l.flags, t0: l.t0, t1: l.t1, exit: l.exit, ...(l.signal !== undefined ? { signal: l.signal } : {}) });
    } else if (l.op === 'setup') {
      report.setupError = { what: l.what, path: l.path, errno: l.errno, ...(l.error !== undefined ? { error: l.error } : {}) };
    }
  });
  return report;
}
