/**
 * The gate's judgement, pure over a summary: each candidate cell against the same scenario's base cell
 * (harness/baseline.ts's classifyChange and matchBaseline, as `--baseline` compares runs), each
 * compatibility cell on its own. The totals decide the exit code (exit-code.ts, exitCodeForGate).
 */
import { classifyChange, matchBaseline } from '../baseline.ts';
import type { BaselineChange, CellRecord, GateRecord, Summary } from '../results.ts';
import type { Verdict } from '../run/session/observations.ts';

const BAD: Verdict[] = ['fail', 'crash', 'hang'];
const JUDGED: Verdict[] = ['pass', ...BAD];

export interface GateSide {
  /** the kernels[].spec (and cells' kernelSpec) of this side */
  spec: string;
  label?: string;
}

/**
 * classifyChange, plus one case only the gate meets: base errored (infrastructure) where the candidate fails,
 * crashes or hangs. That may be a regression and may not; nobody can tell, so it is `unjudged` (125), not
 * `same`. A candidate failure where base skipped (base lacks what the scenario needs) is `new`, not blamed.
 */
export function gateChange(base: Verdict | null, candidate: Verdict): BaselineChange {
  if (base === 'error' && BAD.includes(candidate)) return 'unjudged';
  if (base === 'skip' && BAD.includes(candidate)) return 'new';
  return classifyChange(base, candidate);
}

/**
 * A compatibility cell (one kernel reads what the other wrote) has no counterpart: any fail, crash or hang is
 * a regression, an infrastructure error is unjudged, and a skip (a kernel cannot build the stack at all, which
 * its own scenario cells show) changes nothing.
 */
export function compatChange(v: Verdict): BaselineChange {
  if (BAD.includes(v)) return 'regression';
  if (v === 'error') return 'unjudged';
  return 'same';
}

/** Marks every cell with its side and change and records the totals in summary.gate. */
export function applyGate(summary: Summary, sides: { base: GateSide; candidate: GateSide }, compat: string[]): GateRecord {
  const isCompat = (c: CellRecord) => c.gate?.role === 'compat';
  const baseCells = summary.cells.filter((c) => !isCompat(c) && c.kernelSpec === sides.base.spec);
  const candCells = summary.cells.filter((c) => !isCompat(c) && c.kernelSpec === sides.candidate.spec);
  for (const c of baseCells) c.gate = { role: 'base' };
  const matched = matchBaseline(candCells, baseCells);
  let compared = 0;
  for (const c of candCells) {
    const before = matched.get(c)?.verdict ?? null;
    c.gate = { role: 'candidate', base: before, change: gateChange(before, c.verdict) };
    if (before !== null && JUDGED.includes(before) && JUDGED.includes(c.verdict)) compared++;
  }
  for (const c of summary.cells.filter(isCompat)) {
    c.gate = { ...c.gate!, change: compatChange(c.verdict) };
    if (JUDGED.includes(c.verdict)) compared++;
  }
  const count = (ch: BaselineChange) => summary.cells.filter((c) => c.gate?.change === ch).length;
  summary.gate = {
    base: sides.base, candidate: sides.candidate,
    regressions: count('regression'), unjudged: count('unjudged'), fixed: count('fixed'), compared, compat,
  };
  return summary.gate;
}

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
