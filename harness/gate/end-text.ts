import type { BaselineChange, CellRecord, Summary } from '../results.ts';
import type { GateSide } from '../verdict/gate.ts';

/** Regressions first (with their signature or reason), then cells that could not be judged, then fixes. */
export function formatGateEnd(summary: Summary): string {
  const g = summary.gate;
  if (g === undefined) return '';
  const one = (s: string) => s.replace(/\s*\n\s*/g, ' ');
  const line = (c: CellRecord) => {
    const was = c.gate?.role === 'candidate' ? `base ${c.gate.base ?? 'none'} -> candidate ${c.verdict}` : `${c.kernel}: ${c.verdict}`;
    return `  ${c.scenario}  ${was}  -- ${one(c.signature ?? c.reason)}`;
  };
  const out: string[] = [];
  const section = (title: string, ch: BaselineChange) => {
    const list = summary.cells.filter((c) => c.gate?.change === ch);
    if (list.length > 0) out.push(`${title} (${list.length}):`, ...list.map(line));
  };
  section('REGRESSIONS', 'regression');
  section('Not judged (infrastructure error or skip where base passed)', 'unjudged');
  section('Fixed by the candidate', 'fixed');
  const who = (s: GateSide) => (s.label !== undefined ? `${s.label} (${s.spec})` : s.spec);
  out.push(`gate: base ${who(g.base)} vs candidate ${who(g.candidate)}: ${g.regressions} regression(s), ${g.unjudged} not judged, ${g.fixed} fixed, ${g.compared} cell(s) compared`);
  return `${out.join('\n')}\n`;
}
