/**
 * Summary-level results of a merged run, computed again over the merged cells as one unsharded run would
 * have computed them: the counts, the baseline comparison (when every run compared with the same baseline),
 * and a gate run's judgement (judgeGate: a shard may hold a candidate cell whose base cell ran in another).
 */
import { UsageError } from '../errors.ts';
import type { LoadedRun } from '../load-run.ts';
import { emptyCounts, recordBaseline, recordGate, type CellRecord, type Summary } from '../results.ts';
import { classifyAgainst } from '../verdict/baseline.ts';
import { judgeGate, type GateSide } from '../verdict/gate.ts';

export interface MergedGate {
  sides: { base: GateSide; candidate: GateSide };
  compat: string[];
}

/** The gate the runs share; undefined when none is a gate run. Gate and other runs, or two gates, do not merge. */
export function mergedGate(runs: LoadedRun[]): MergedGate | undefined {
  const gated = runs.filter((r) => r.summary.gate !== undefined);
  if (gated.length === 0) return undefined;
  if (gated.length !== runs.length) {
    const plain = runs.filter((r) => r.summary.gate === undefined).map((r) => r.dir);
    throw new UsageError(`merge: ${plain.join(', ')} ${plain.length === 1 ? 'is not a gate run' : 'are not gate runs'}, the others are (npm run gate): merge gate runs only with gate runs`);
  }
  const first = gated[0]!.summary.gate!;
  for (const r of gated) {
    const g = r.summary.gate!;
    if (g.base.spec !== first.base.spec || g.candidate.spec !== first.candidate.spec) {
      throw new UsageError(`merge: ${r.dir} gates base ${g.base.spec} vs candidate ${g.candidate.spec}, ${gated[0]!.dir} base ${first.base.spec} vs candidate ${first.candidate.spec}: merge runs of one gate only`);
    }
  }
  const label = (side: 'base' | 'candidate') => gated.map((r) => r.summary.gate![side].label).find((l) => l !== undefined);
  const side = (which: 'base' | 'candidate'): GateSide => {
    const l = label(which);
    return { spec: first[which].spec, ...(l !== undefined ? { label: l } : {}) };
  };
  return { sides: { base: side('base'), candidate: side('candidate') }, compat: [...new Set(gated.flatMap((r) => r.summary.gate!.compat))] };
}

/** The baseline every run was compared with (same run id), or undefined. */
export function sharedBaseline(runs: LoadedRun[]): { runId: string; dir: string } | undefined {
  const b = runs.map((r) => r.summary.baseline);
  const first = b[0];
  if (first === undefined || b.some((x) => x?.runId !== first.runId)) return undefined;
  return { runId: first.runId, dir: first.dir };
}

/** Why the merged run carries no baseline comparison though some runs had one; undefined when nothing is lost. */
export function baselineWarning(runs: LoadedRun[]): string | undefined {
  if (runs.every((r) => r.summary.baseline === undefined) || sharedBaseline(runs) !== undefined) return undefined;
  const ids = [...new Set(runs.map((r) => r.summary.baseline?.runId ?? 'none'))];
  return `runs were compared with different baselines (${ids.join(', ')}): the merged run has no baseline comparison; give --baseline to compare it`;
}

/**
 * Counts, baseline and gate of `s` from its (merged) cells. `baselineOf` gives a merged cell's verdict in the
 * shared baseline, as its shard recorded it.
 */
export function recomputeAggregates(
  s: Summary, runs: LoadedRun[], baselineOf: (c: CellRecord) => CellRecord['baseline'] | undefined,
): void {
  s.counts = emptyCounts();
  for (const c of s.cells) s.counts[c.verdict] += 1;
  const base = sharedBaseline(runs);
  delete s.baseline;
  if (base !== undefined) {
    recordBaseline(s, classifyAgainst(s.cells, base, (c) => baselineOf(c)?.verdict ?? null));
  } else {
    for (const c of s.cells) delete c.baseline;
  }
  const gate = mergedGate(runs);
  delete s.gate;
  if (gate !== undefined) recordGate(s, judgeGate(s, gate.sides, gate.compat));
}
