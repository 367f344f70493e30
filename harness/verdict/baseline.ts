/**
 * A run against a baseline run (`--baseline`, a merge, a re-judged run): each cell's change from the same
 * cell's verdict there, and the totals. Pure: it returns the annotations, and the caller records them
 * (results.ts, recordBaseline).
 */
import type { BaselineChange, CellRecord, Summary } from '../results.ts';
import { isFailure } from './order.ts';
import type { Verdict } from './types.ts';

export function classifyChange(before: Verdict | null, now: Verdict): BaselineChange {
  if (before === null) return 'new';
  if (before === 'pass' && isFailure(now)) return 'regression';
  if (before === 'pass' && now !== 'pass') return 'unjudged';
  if (isFailure(before) && now === 'pass') return 'fixed';
  return 'same';
}

/**
 * The baseline's cell for each current cell: same --kernel text and scenario; else same kernel label and
 * scenario; else, when each run has a single kernel (an A/B comparison of two kernels), the same scenario.
 */
export function matchBaseline(cells: readonly CellRecord[], base: readonly CellRecord[]): Map<CellRecord, CellRecord | undefined> {
  const bySpec = new Map(base.map((c) => [`${c.kernelSpec}\0${c.scenario}`, c]));
  const byLabel = new Map(base.map((c) => [`${c.kernel}\0${c.scenario}`, c]));
  const single = new Set(cells.map((c) => c.kernelSpec)).size === 1 && new Set(base.map((c) => c.kernelSpec)).size === 1;
  const byScenario = new Map(base.map((c) => [c.scenario, c]));
  return new Map(cells.map((c) => [
    c, bySpec.get(`${c.kernelSpec}\0${c.scenario}`) ?? byLabel.get(`${c.kernel}\0${c.scenario}`) ?? (single ? byScenario.get(c.scenario) : undefined),
  ]));
}

/** What a comparison with a baseline says: each cell's annotation, in the order of the cells, and the totals. */
export interface BaselineComparison {
  cells: Array<NonNullable<CellRecord['baseline']>>;
  totals: NonNullable<Summary['baseline']>;
}

/** Each cell of `summary` against the baseline run `base` (a loaded run: its summary and directory). */
export function compareWithBaseline(summary: Pick<Summary, 'cells'>, base: { dir: string; summary: Pick<Summary, 'runId' | 'cells'> }): BaselineComparison {
  const matched = matchBaseline(summary.cells, base.summary.cells);
  return classifyAgainst(summary.cells, { runId: base.summary.runId, dir: base.dir }, (c) => matched.get(c)?.verdict ?? null);
}

/**
 * Each cell's change from its verdict in the baseline run `base` (`before`: null when it had no such cell),
 * and the totals. A merge and a re-judged run take `before` from what was recorded.
 */
export function classifyAgainst(cells: readonly CellRecord[], base: { runId: string; dir: string }, before: (c: CellRecord) => Verdict | null): BaselineComparison {
  const annotations = cells.map((c) => {
    const was = before(c);
    return { verdict: was, change: classifyChange(was, c.verdict) };
  });
  const count = (ch: BaselineChange) => annotations.filter((a) => a.change === ch).length;
  return { cells: annotations, totals: { runId: base.runId, dir: base.dir, regressions: count('regression'), unjudged: count('unjudged'), fixed: count('fixed') } };
}
