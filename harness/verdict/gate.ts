/**
 * The gate's judgement, pure over a summary: each candidate cell against the same scenario's base cell
 * (baseline.ts's classifyChange and matchBaseline, as `--baseline` compares runs), each compatibility cell
 * on its own. It returns the annotations, which the caller records (results.ts, recordGate); the totals
 * decide the exit code (exit-code.ts, exitCodeForGate).
 */
import type { BaselineChange, CellRecord, GateCellRecord, GateRecord, Summary } from '../results.ts';
import { classifyChange, matchBaseline } from './baseline.ts';
import { isFailure, isJudged } from './order.ts';
import type { Verdict } from './types.ts';

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
  if (base === 'error' && isFailure(candidate)) return 'unjudged';
  if (base === 'skip' && isFailure(candidate)) return 'new';
  return classifyChange(base, candidate);
}

/**
 * A compatibility cell (one kernel reads what the other wrote) has no counterpart: any fail, crash or hang is
 * a regression, an infrastructure error is unjudged, and a skip (a kernel cannot build the stack at all, which
 * its own scenario cells show) changes nothing.
 */
export function compatChange(v: Verdict): BaselineChange {
  if (isFailure(v)) return 'regression';
  if (v === 'error') return 'unjudged';
  return 'same';
}

/**
 * What the gate says of a run: for each cell, in the order of the cells, its side and change (undefined for a
 * cell on neither side, which keeps what it has), and the totals (summary.gate).
 */
export interface GateComparison {
  cells: Array<GateCellRecord | undefined>;
  totals: GateRecord;
}

/** Each cell's side and change, and the totals. */
export function judgeGate(summary: Pick<Summary, 'cells'>, sides: { base: GateSide; candidate: GateSide }, compat: string[]): GateComparison {
  const cells = summary.cells;
  const isCompat = (c: CellRecord) => c.gate?.role === 'compat';
  const annotations = new Map<CellRecord, GateCellRecord>();
  const baseCells = cells.filter((c) => !isCompat(c) && c.kernelSpec === sides.base.spec);
  const candCells = cells.filter((c) => !isCompat(c) && c.kernelSpec === sides.candidate.spec);
  for (const c of baseCells) annotations.set(c, { role: 'base' });
  const matched = matchBaseline(candCells, baseCells);
  let compared = 0;
  for (const c of candCells) {
    const before = matched.get(c)?.verdict ?? null;
    annotations.set(c, { role: 'candidate', base: before, change: gateChange(before, c.verdict) });
    if (before !== null && isJudged(before) && isJudged(c.verdict)) compared++;
  }
  for (const c of cells.filter(isCompat)) {
    annotations.set(c, { ...c.gate!, change: compatChange(c.verdict) });
    if (isJudged(c.verdict)) compared++;
  }
  const after = cells.map((c) => annotations.get(c));
  const count = (ch: BaselineChange) => cells.filter((c, i) => (after[i] ?? c.gate)?.change === ch).length;
  return {
    cells: after,
    totals: {
      base: sides.base, candidate: sides.candidate,
      regressions: count('regression'), unjudged: count('unjudged'), fixed: count('fixed'), compared, compat,
    },
  };
}
