import { UsageError } from './errors.ts';
import type { PlanRecord, ShardSpec } from './results.ts';
import type { SlowNotRun } from './scenario/discover.ts';

/**
 * Planning: which cells a run executes and how often, decided before any kernel is resolved or guest booted
 * (dispatching is harness/run/matrix.ts, reporting harness/reporters/). Cells are keyed by the --kernel text,
 * not the resolved kernel, so every shard of a CI matrix computes the same plan without downloading anything.
 */
export interface PlannedCell<K extends { text: string } = { text: string }, S extends { id: string } = { id: string }> {
  /** "<--kernel text>/<scenario id>": stable across machines and runs. */
  key: string;
  kernel: K;
  scenario: S;
}

/**
 * A gate's compatibility cell: one direction of a compatibility scenario, written on `writer` and read on
 * `reader` (harness/gate/compat.ts). Planned with the matrix's cells, so the run counts, repeats and retries it.
 */
export interface PlannedCompatCell<K extends { text: string } = { text: string }, S extends { id: string } = { id: string }> {
  /** "<writer text>→<reader text>/<scenario id>" */
  key: string;
  writer: K;
  reader: K;
  scenario: S;
}

export interface Plan<K extends { text: string } = { text: string }, S extends { id: string } = { id: string }> {
  cells: PlannedCell<K, S>[];
  /** The gate's compatibility cells, run after `cells` on the same kernels; counted in totalCells. */
  compat?: PlannedCompatCell<K, S>[];
  /** Every --kernel of the matrix, in the order given (a shard may have cells on only some). */
  kernels: string[];
  totalCells: number;
  repeat: number;
  retries: number;
  shard?: ShardSpec;
  /** Slow scenarios the default selection left out (harness/scenario/discover.ts). */
  slowNotRun?: SlowNotRun;
}

/** "2/5" -> { index: 2, total: 5 } (1-based, as CI matrices count). */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]), total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total) {
    throw new UsageError(`--shard expects i/n with 1 <= i <= n (e.g. 1/4), got '${text}'`);
  }
  return { index, total };
}

/** Every kernel x every scenario, kernels in the order given. */
export function planCells<K extends { text: string }, S extends { id: string }>(kernels: K[], scenarios: S[]): PlannedCell<K, S>[] {
  const seen = new Set<string>();
  for (const k of kernels) {
    if (seen.has(k.text)) throw new UsageError(`--kernel ${k.text} is given twice`);
    seen.add(k.text);
  }
  return kernels.flatMap((kernel) => scenarios.map((scenario) => ({ key: `${kernel.text}/${scenario.id}`, kernel, scenario })));
}

/**
 * The shard's slice: cells sorted by key are dealt round-robin to the shards, so shards differ in size by at
 * most one cell, the slice does not depend on the order of --kernel flags, and together the shards cover
 * every cell exactly once. Plan order is kept inside the slice.
 */
export function shardCells<T extends { key: string }>(cells: T[], shard: ShardSpec): T[] {
  const sorted = [...cells].map((c) => c.key).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const mine = new Set(sorted.filter((_, i) => i % shard.total === shard.index - 1));
  return cells.filter((c) => mine.has(c.key));
}

export function planMatrix<K extends { text: string }, S extends { id: string }>(
  kernels: K[], scenarios: S[], opts: { repeat?: number; retries?: number; shard?: ShardSpec; slowNotRun?: SlowNotRun } = {},
): Plan<K, S> {
  const all = planCells(kernels, scenarios);
  const cells = opts.shard !== undefined ? shardCells(all, opts.shard) : all;
  return {
    cells, kernels: kernels.map((k) => k.text), totalCells: all.length, repeat: opts.repeat ?? 1, retries: opts.retries ?? 0,
    ...(opts.shard !== undefined ? { shard: opts.shard } : {}),
    ...(opts.slowNotRun !== undefined ? { slowNotRun: opts.slowNotRun } : {}),
  };
}

/** Both directions of each compatibility scenario (base writes, then candidate writes), added to the plan's cells. */
export function withCompat<K extends { text: string }, S extends { id: string }>(plan: Plan<K, S>, sides: { base: K; candidate: K }, scenarios: S[]): Plan<K, S> {
  const compat = scenarios.flatMap((scenario) => (
    [[sides.base, sides.candidate], [sides.candidate, sides.base]] as const).map(([writer, reader]) => ({ key: `${writer.text}→${reader.text}/${scenario.id}`, writer, reader, scenario })));
  return { ...plan, compat, totalCells: plan.totalCells + compat.length };
}

/** Every cell this run executes: the matrix's and the compatibility cells. */
export function plannedCellCount(plan: Pick<Plan, 'cells' | 'compat'>): number {
  return plan.cells.length + (plan.compat?.length ?? 0);
}

export function planRecord(plan: Plan): PlanRecord {
  return {
    kernels: plan.kernels, totalCells: plan.totalCells, cells: plannedCellCount(plan), repeat: plan.repeat, retries: plan.retries,
    ...(plan.compat !== undefined ? { compatCells: plan.compat.length } : {}),
    ...(plan.shard !== undefined ? { shard: plan.shard } : {}),
    ...(plan.slowNotRun !== undefined ? { slowNotRun: plan.slowNotRun } : {}),
  };
}

/** Kernels that have at least one cell in this plan (a shard resolves only those). */
export function plannedKernels<K extends { text: string }>(plan: Plan<K>): K[] {
  const out = new Map<string, K>();
  for (const c of plan.cells) out.set(c.kernel.text, c.kernel);
  return [...out.values()];
}

/**
 * Executions in dispatch order: a cell's repetitions are consecutive, so cells finish (and are reported)
 * one after another instead of all at the end.
 */
export function executions<C>(cells: C[], repeat: number): Array<{ cell: C; repeat: number }> {
  return cells.flatMap((cell) => Array.from({ length: repeat }, (_, i) => ({ cell, repeat: i + 1 })));
}

/** Whether executions get their own directories (cells/<cell>/rep<r>-try<a>) or the cell's. */
export function perExecutionDirs(plan: Pick<Plan, 'repeat' | 'retries'>): boolean {
  return plan.repeat > 1 || plan.retries > 0;
}
