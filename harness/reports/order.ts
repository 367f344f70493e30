import type { CellRecord, Summary } from '../results.ts';

/**
 * The order every report lists cells in: regressions first (they decide a baseline or gate run), then by kernel in
 * the order the kernels were given, then by scenario id. Cells finish in any order; reports do not.
 */
export function reportOrder(summary: Pick<Summary, 'cells' | 'kernels'>): CellRecord[] {
  const kernelIndex = new Map(summary.kernels.map((k, i) => [k.spec, i]));
  const rank = (c: CellRecord) => (c.baseline?.change === 'regression' || c.gate?.change === 'regression' ? 0 : 1);
  return [...summary.cells].sort((a, b) =>
    rank(a) - rank(b)
    || (kernelIndex.get(a.kernelSpec) ?? 1e9) - (kernelIndex.get(b.kernelSpec) ?? 1e9)
    || a.kernelSpec.localeCompare(b.kernelSpec)
    || a.scenario.localeCompare(b.scenario));
}

/** Kernel columns of a kernel x scenario grid: one per --kernel, labelled as its cells are. */
export function kernelColumns(summary: Pick<Summary, 'cells' | 'kernels'>): Array<{ spec: string; label: string }> {
  const cols = new Map<string, string>();
  for (const k of summary.kernels) cols.set(k.spec, k.label ?? k.spec);
  for (const c of summary.cells) if (!cols.has(c.kernelSpec)) cols.set(c.kernelSpec, c.kernel);
  return [...cols].map(([spec, label]) => ({ spec, label }));
}
