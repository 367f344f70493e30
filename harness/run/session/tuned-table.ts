/**
 * A device's table changed but compatible: the same target over the same data and format, a tunable that
 * changes no byte the device returns set to another value. What a race under a churn reloads (the race
 * step's `reload: tuned`), so the swap builds a target instance that runs differently from the old one.
 * - integrity, journal mode: journal_watermark and commit_time (when the journal is flushed);
 *   bitmap mode: bitmap_flush_interval; direct and recovery mode: buffer_sectors.
 * - crypt: same_cpu_crypt toggled (where the work runs, not what it computes).
 */
import { UsageError } from '../../errors.ts';

/** Where a target's optional-argument count sits in its arguments (after start, length and type). */
const OPT_COUNT_AT: Record<string, number> = { integrity: 4, crypt: 5 };

interface Parsed {
  head: string[];
  opts: string[];
  tail: string[];
}

function parse(table: string): { type: string; p: Parsed } {
  const lines = table.trim().split('\n');
  if (lines.length !== 1) throw new UsageError(`a tuned table is for a device of one target; this one has ${lines.length} lines`);
  const t = lines[0]!.trim().split(/\s+/);
  const type = t[2] ?? '';
  const at = OPT_COUNT_AT[type];
  if (at === undefined) throw new UsageError(`no tuned table for a ${JSON.stringify(type)} target (integrity and crypt have one)`);
  const countAt = 3 + at;
  const n = Number(t[countAt] ?? '0');
  if (!Number.isInteger(n) || n < 0 || countAt + 1 + n > t.length) throw new UsageError(`cannot read the optional arguments of the table '${table.trim()}'`);
  return { type, p: { head: t.slice(0, countAt), opts: t.slice(countAt + 1, countAt + 1 + n), tail: t.slice(countAt + 1 + n) } };
}

function setOpt(opts: string[], key: string, value: (old: number | undefined) => number): string[] {
  const i = opts.findIndex((o) => o.startsWith(`${key}:`));
  const old = i < 0 ? undefined : Number(opts[i]!.slice(key.length + 1));
  const next = `${key}:${value(old)}`;
  return i < 0 ? [...opts, next] : opts.map((o, j) => (j === i ? next : o));
}

/** The table with its tunables moved; throws UsageError for a target or mode without one. */
export function tunedTable(table: string): string {
  const { type, p } = parse(table);
  let opts = p.opts;
  if (type === 'integrity') {
    const mode = p.head[6];
    if (mode === 'J') {
      opts = setOpt(opts, 'journal_watermark', (w) => ((w ?? 50) >= 30 ? 10 : 80));
      opts = setOpt(opts, 'commit_time', (c) => ((c ?? 10000) >= 1000 ? 200 : 10000));
    } else if (mode === 'B') {
      opts = setOpt(opts, 'bitmap_flush_interval', (f) => ((f ?? 10000) >= 1000 ? 200 : 10000));
    } else {
      opts = setOpt(opts, 'buffer_sectors', (b) => ((b ?? 128) >= 64 ? 32 : 128));
    }
  } else {
    opts = opts.includes('same_cpu_crypt') ? opts.filter((o) => o !== 'same_cpu_crypt') : [...opts, 'same_cpu_crypt'];
  }
  return [...p.head, String(opts.length), ...opts, ...p.tail].join(' ');
}
