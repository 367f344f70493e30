// How a run's coverage reads at the end of the run (line.ts) and in report.html.
import type { CoverageRecord } from '../results.ts';

/** The lines the end of a run prints: per kernel and file, lines / functions / branches. */
export function coverageLines(record: CoverageRecord): string[] {
  const pct = (r: { pct: number | null; hit: number; found: number }) => `${r.pct === null ? '-' : `${r.pct.toFixed(1)}%`} (${r.hit}/${r.found})`;
  const out: string[] = [];
  for (const k of record.kernels) {
    out.push(`coverage on ${k.kernel} (lines, functions, branches):`);
    const width = Math.max(...k.files.map((f) => shortName(f.file).length), 4);
    for (const f of k.files) out.push(`  ${shortName(f.file).padEnd(width)}  ${pct(f.lines).padEnd(20)} ${pct(f.functions).padEnd(16)} ${pct(f.branches)}`);
    const idle = k.scenarios.filter((s) => s.uniqueLines === 0).map((s) => s.scenario);
    if (idle.length > 0) out.push(`  scenarios that reach no line the others do not: ${idle.join(', ')}`);
    const missing = k.scenarios.filter((s) => s.missing !== undefined);
    if (missing.length > 0) out.push(`  scenarios without coverage: ${missing.map((s) => s.scenario).join(', ')}`);
  }
  if (record.lcov !== undefined) out.push(`coverage: ${record.lcov}${record.html !== undefined ? `, ${record.html}` : ''}`);
  for (const e of record.errors ?? []) out.push(`coverage: ${e}`);
  return out;
}

/** drivers/md/dm-integrity.c out of the source's absolute path. */
export function shortName(file: string): string {
  const m = /\/((?:drivers|block|fs|lib|crypto|kernel|mm|include)\/.*)$/.exec(file);
  return m?.[1] ?? file;
}
