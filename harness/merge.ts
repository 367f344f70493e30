import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import type { LoadedRun } from './baseline.ts';
import { UsageError } from './errors.ts';
import { combineRuns } from './repeat.ts';
import { emptyCounts, RunResults, type CellRecord, type KernelRecord, type PlanRecord, type RunRecord } from './results.ts';

/** "cells/<name>/rep1-try1" -> "cells/<name>": the folder that holds everything of one cell. */
function cellFolder(dir: string): string {
  return dir.split('/').slice(0, 2).join('/');
}

/** What merging found odd but not fatal: shards missing, runs of different matrices, runs not finished. */
export function mergeWarnings(runs: LoadedRun[]): string[] {
  const out: string[] = [];
  for (const r of runs) if (r.summary.status !== 'complete') out.push(`${r.dir}: run is ${r.summary.status}; its missing cells stay missing`);
  const totals = new Set(runs.map((r) => r.summary.plan?.shard?.total).filter((t) => t !== undefined));
  if (totals.size > 1) out.push(`runs come from different shardings (${[...totals].map((t) => `/${t}`).join(', ')})`);
  if (totals.size === 1) {
    const total = [...totals][0]!;
    const have = new Set(runs.map((r) => r.summary.plan?.shard?.index));
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !have.has(i));
    if (missing.length > 0) out.push(`shard(s) ${missing.map((i) => `${i}/${total}`).join(', ')} not among the merged runs`);
  }
  const planned = new Set(runs.map((r) => r.summary.plan?.totalCells).filter((t) => t !== undefined));
  if (planned.size > 1) out.push(`runs planned different matrices (${[...planned].join(', ')} cells)`);
  return out;
}

/** A cell's executions as RunRecords, with directories made relative to the merged run. */
function executionsOf(c: CellRecord, rename: (dir: string) => string): RunRecord[] {
  if (c.runs !== undefined) return c.runs.map((r) => ({ ...r, dir: rename(r.dir) }));
  return [{
    repeat: 1, attempt: 1, verdict: c.verdict, reason: c.reason, durationMs: c.durationMs, dir: rename(c.dir),
    ...(c.bootMs !== undefined ? { bootMs: c.bootMs } : {}), ...(c.signature !== undefined ? { signature: c.signature } : {}),
  }];
}

/** Several records of one cell (the same cell in two runs) as one, their executions as repetitions. */
export function combineRecords(parts: Array<{ cell: CellRecord; rename: (dir: string) => string }>): CellRecord {
  const first = parts[0]!.cell;
  if (parts.length === 1) {
    const { cell, rename } = parts[0]!;
    return { ...cell, dir: rename(cell.dir), ...(cell.runs !== undefined ? { runs: executionsOf(cell, rename) } : {}) };
  }
  let offset = 0;
  const runs: RunRecord[] = [];
  for (const p of parts) {
    const mine = executionsOf(p.cell, p.rename);
    runs.push(...mine.map((r) => ({ ...r, repeat: r.repeat + offset })));
    offset += Math.max(...mine.map((r) => r.repeat));
  }
  const c = combineRuns(runs);
  const { flaky: _f, baseline: _b, runs: _r, signature: _s, bootMs: _t, ...base } = first;
  return {
    ...base, verdict: c.verdict, reason: c.reason, durationMs: runs.reduce((t, r) => t + r.durationMs, 0), dir: c.from.dir,
    ...(c.from.bootMs !== undefined ? { bootMs: c.from.bootMs } : {}),
    ...(c.from.signature !== undefined ? { signature: c.from.signature } : {}),
    ...(c.flaky ? { flaky: true } : {}), runs,
  };
}

/**
 * Merges runs (typically the shards of one matrix) into a new run directory under `resultsRoot`: kernels and
 * cells united, each cell's folder copied without its disk images, the same cell in several runs combined as
 * repetitions. Reports are written by the caller from the returned summary.
 */
export async function mergeRuns(runs: LoadedRun[], resultsRoot: string, command: string[]): Promise<RunResults> {
  if (runs.length === 0) throw new UsageError('merge: give at least one run directory');
  const groups = new Map<string, Array<{ cell: CellRecord; run: LoadedRun }>>();
  for (const run of runs) {
    for (const cell of run.summary.cells) {
      const key = `${cell.kernelSpec}\0${cell.scenario}`;
      groups.set(key, [...(groups.get(key) ?? []), { cell, run }]);
    }
  }
  const plans = runs.map((r) => r.summary.plan).filter((p): p is PlanRecord => p !== undefined);
  // Kernels in the order the matrix gave them (a shard resolves only its own), then any the plans do not name.
  const kernelOrder = [...new Set([...plans.flatMap((p) => p.kernels ?? []), ...runs.flatMap((r) => r.summary.kernels.map((k) => k.spec))])];
  const plan: PlanRecord = {
    kernels: kernelOrder,
    totalCells: Math.max(groups.size, ...plans.map((p) => p.totalCells)), cells: groups.size,
    repeat: Math.max(1, ...plans.map((p) => p.repeat)), retries: Math.max(0, ...plans.map((p) => p.retries)),
  };
  const slowNotRun = mergeSlowNotRun(plans, new Set(runs.flatMap((r) => r.summary.cells.map((c) => c.scenario))));
  if (slowNotRun !== undefined) plan.slowNotRun = slowNotRun;
  const out = await RunResults.create(resultsRoot, command, { plan });
  const s = out.summary;
  s.startedAt = runs.map((r) => r.summary.startedAt).sort()[0]!;
  s.mergedFrom = runs.map((r) => ({ runId: r.summary.runId, dir: r.dir, ...(r.summary.plan?.shard ? { shard: r.summary.plan.shard } : {}) }));
  const accel = runs.find((r) => r.summary.accelerator !== undefined)?.summary.accelerator;
  if (accel !== undefined) s.accelerator = accel;
  const kernels = new Map<string, KernelRecord>();
  for (const r of runs) for (const k of r.summary.kernels) if (kernels.get(k.spec)?.status !== 'ok') kernels.set(k.spec, k);
  s.kernels = kernelOrder.map((spec) => kernels.get(spec)).filter((k): k is KernelRecord => k !== undefined);

  const taken = new Set<string>();
  const cells: CellRecord[] = [];
  for (const parts of groups.values()) {
    const renamed = [];
    for (const { cell, run } of parts) {
      if (cell.dir === '') {
        renamed.push({ cell, rename: (d: string) => d });
        continue;
      }
      const from = cellFolder(cell.dir);
      const to = taken.has(from) ? `${from}@${run.summary.runId}` : from;
      taken.add(to);
      const src = join(run.dir, from);
      // Disk images stay in the shard's run: large, and only kept for cells that did not pass.
      await cp(src, join(out.dir, to), { recursive: true, filter: (p) => !p.slice(src.length).split('/').includes('disks') });
      renamed.push({ cell, rename: (d: string) => (d.startsWith(from) ? to + d.slice(from.length) : d) });
    }
    cells.push(combineRecords(renamed));
  }
  s.cells = cells;
  s.counts = emptyCounts();
  for (const c of s.cells) s.counts[c.verdict] += 1;
  s.status = runs.every((r) => r.summary.status === 'complete') ? 'complete' : 'interrupted';
  await out.flush();
  return out;
}

/**
 * Slow scenarios none of the merged runs ran: shards of one plan agree (their globs are kept); a run that
 * did run some of them (with --slow or --scenario) takes those off the list.
 */
export function mergeSlowNotRun(plans: PlanRecord[], ran: Set<string>): PlanRecord['slowNotRun'] {
  const lists = plans.map((p) => p.slowNotRun).filter((x) => x !== undefined);
  if (lists.length === 0) return undefined;
  const left = [...new Set(lists.flatMap((l) => l.scenarios))].filter((id) => !ran.has(id)).sort();
  const same = lists.find((l) => l.scenarios.length === left.length && l.scenarios.every((id) => left.includes(id)));
  return { scenarios: left, globs: same?.globs ?? left };
}
