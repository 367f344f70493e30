import { join } from 'node:path';
import type { LoadedRun } from './load-run.ts';
import { UsageError } from './errors.ts';
import { baselineWarning, mergedGate, recomputeAggregates } from './merge/aggregates.ts';
import { copyBuildLog, copyCellFolder, copyGuests, freeName, type Taken } from './merge/files.ts';
import { combineRuns } from './verdict/repeat.ts';
import { RunResults, type CellRecord, type KernelRecord, type PlanRecord, type RunRecord, type Summary } from './results.ts';
import { loadSchema, validate } from './schema/validate.ts';
import { summarizeCoverage } from './coverage/run.ts';

/** "cells/<name>/rep1-try1" -> "cells/<name>": the folder that holds everything of one cell. */
function cellFolder(dir: string): string {
  return dir.split('/').slice(0, 2).join('/');
}

/**
 * Why the merged run is not the whole matrix: a run that did not complete (interrupted, or left `running` by
 * a job that died), a shard of the sharding that is not among the runs. Each makes the merge exit 125 unless
 * a failure makes it 1: cells that never ran were not tested.
 */
export function mergeIncomplete(runs: LoadedRun[]): string[] {
  const out: string[] = [];
  for (const r of runs) {
    if (r.summary.status !== 'complete') {
      const shard = r.summary.plan?.shard;
      out.push(`${shard !== undefined ? `shard ${shard.index}/${shard.total} ` : ''}${r.dir}: run is ${r.summary.status}; its cells that did not finish are missing`);
    }
  }
  const totals = new Set(runs.map((r) => r.summary.plan?.shard?.total).filter((t) => t !== undefined));
  if (totals.size === 1) {
    const total = [...totals][0]!;
    // CI often shards each kernel's matrix on its own (one job per kernel and shard): check each matrix apart
    const matrices = new Map<string, Set<number | undefined>>();
    for (const r of runs) {
      const key = (r.summary.plan?.kernels ?? []).join(' ');
      matrices.set(key, (matrices.get(key) ?? new Set()).add(r.summary.plan?.shard?.index));
    }
    for (const [kernels, have] of matrices) {
      const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !have.has(i));
      const of = matrices.size > 1 && kernels !== '' ? ` of --kernel ${kernels.split(' ').join(' --kernel ')}` : '';
      if (missing.length > 0) out.push(`shard(s) ${missing.map((i) => `${i}/${total}`).join(', ')}${of} not among the merged runs`);
    }
  }
  return out;
}

/** What merging found odd but not fatal: runs of different shardings or matrices, different baselines. */
export function mergeWarnings(runs: LoadedRun[]): string[] {
  const out: string[] = [];
  const totals = new Set(runs.map((r) => r.summary.plan?.shard?.total).filter((t) => t !== undefined));
  if (totals.size > 1) out.push(`runs come from different shardings (${[...totals].map((t) => `/${t}`).join(', ')})`);
  const planned = new Set(runs.map((r) => r.summary.plan?.totalCells).filter((t) => t !== undefined));
  if (planned.size > 1) out.push(`runs planned different matrices (${[...planned].join(', ')} cells)`);
  const baseline = baselineWarning(runs);
  if (baseline !== undefined) out.push(baseline);
  return out;
}

/** Where one run's files went in the merged run. */
export interface Relocation {
  /** a directory relative to the run -> relative to the merged run */
  rename: (dir: string) => string;
  /** an execution's guest in the merged run, from its directory there and the guest its run recorded */
  guest?: (mergedDir: string, recorded: string | undefined) => string | undefined;
}

function withGuest<T extends { dir: string; guest?: string }>(r: T, p: Relocation): T {
  const { guest: recorded, ...rest } = r;
  const dir = p.rename(r.dir);
  const guest = p.guest ? p.guest(dir, recorded) : recorded;
  return { ...rest, dir, ...(guest !== undefined ? { guest } : {}) } as T;
}

/** A cell's executions as RunRecords, with directories (and guests) made relative to the merged run. */
function executionsOf(c: CellRecord, p: Relocation): RunRecord[] {
  if (c.runs !== undefined) return c.runs.map((r) => withGuest(r, p));
  return [withGuest({
    repeat: 1, attempt: 1, verdict: c.verdict, reason: c.reason, durationMs: c.durationMs, dir: c.dir,
    ...(c.guest !== undefined ? { guest: c.guest } : {}),
    ...(c.bootMs !== undefined ? { bootMs: c.bootMs } : {}), ...(c.signature !== undefined ? { signature: c.signature } : {}),
  }, p)];
}

/** Several records of one cell (the same cell in two runs) as one, their executions as repetitions. */
export function combineRecords(parts: Array<{ cell: CellRecord } & Relocation>): CellRecord {
  const first = parts[0]!.cell;
  if (parts.length === 1) {
    const p = parts[0]!;
    return { ...withGuest(p.cell, p), ...(p.cell.runs !== undefined ? { runs: executionsOf(p.cell, p) } : {}) };
  }
  let offset = 0;
  const runs: RunRecord[] = [];
  for (const p of parts) {
    const mine = executionsOf(p.cell, p);
    runs.push(...mine.map((r) => ({ ...r, repeat: r.repeat + offset })));
    offset += Math.max(...mine.map((r) => r.repeat));
  }
  const c = combineRuns(runs);
  const { flaky: _f, baseline: _b, runs: _r, signature: _s, bootMs: _t, guest: _g, ...base } = first;
  return {
    ...base, verdict: c.verdict, reason: c.reason, durationMs: runs.reduce((t, r) => t + r.durationMs, 0), dir: c.from.dir,
    ...(c.from.guest !== undefined ? { guest: c.from.guest } : {}),
    ...(c.from.bootMs !== undefined ? { bootMs: c.from.bootMs } : {}),
    ...(c.from.signature !== undefined ? { signature: c.from.signature } : {}),
    ...(c.flaky ? { flaky: true } : {}), runs,
  };
}

/** Throws when the merged summary breaks harness/schema/summary.schema.json: a bug of the merge, not of its input. */
export function checkSummary(s: Summary): void {
  const errs = validate(loadSchema('summary'), s);
  if (errs.length > 0) throw new Error(`merge: the merged summary.json breaks the summary schema:\n  ${errs.slice(0, 10).join('\n  ')}`);
}

/**
 * Merges runs (typically the shards of one matrix) into a new run directory under `resultsRoot`, as one
 * unsharded run would have been: kernels and cells united (the same cell in several runs combined as
 * repetitions), each cell's folder, every shared guest's folder and every kept build log copied
 * (merge/files.ts: collision-free names, references rewritten), the counts, baseline comparison and gate
 * judgement computed again over the merged cells (merge/aggregates.ts), what the merge lacks recorded as
 * `incomplete` (mergeIncomplete, plus `unreadable`: given runs whose summary.json could not be read), the
 * summary checked against its schema. Reports are written by the caller from the returned summary.
 */
export async function mergeRuns(runs: LoadedRun[], resultsRoot: string, command: string[], opts: { unreadable?: string[] } = {}): Promise<RunResults> {
  if (runs.length === 0) throw new UsageError('merge: give at least one run directory');
  mergedGate(runs); // refuses gate runs mixed with others before anything is written
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

  const taken: Taken = new Set();
  const guests = new Map<LoadedRun, Map<string, string>>();
  for (const run of runs) guests.set(run, await copyGuests(run, out.dir, taken));
  s.kernels = await mergeKernels(runs, kernelOrder, out.dir, taken);

  const cells: CellRecord[] = [];
  const baselineOf = new Map<CellRecord, CellRecord['baseline']>();
  for (const parts of groups.values()) {
    const relocated = [];
    for (const { cell, run } of parts) {
      if (cell.dir === '') {
        relocated.push({ cell, rename: (d: string) => d });
        continue;
      }
      const from = cellFolder(cell.dir);
      const to = freeName(taken, from, run.summary.runId);
      const mine = guests.get(run)!;
      const byResult = await copyCellFolder(run, from, to, out.dir, mine);
      relocated.push({
        cell,
        rename: (d: string) => (d.startsWith(from) ? to + d.slice(from.length) : d),
        guest: (dir: string, recorded: string | undefined) => (recorded !== undefined ? mine.get(recorded) ?? recorded : byResult.get(dir)),
      });
    }
    const merged = combineRecords(relocated);
    baselineOf.set(merged, parts.find((p) => p.cell.baseline !== undefined)?.cell.baseline);
    cells.push(merged);
  }
  s.cells = cells;
  recomputeAggregates(s, runs, (c) => baselineOf.get(c));
  const coverage = await summarizeCoverage(s, out.dir);
  if (coverage !== undefined) s.coverage = coverage;
  s.status = runs.every((r) => r.summary.status === 'complete') ? 'complete' : 'interrupted';
  const incomplete = [...(opts.unreadable ?? []), ...mergeIncomplete(runs)];
  if (incomplete.length > 0) s.incomplete = incomplete;
  checkSummary(s);
  await out.flush();
  return out;
}

/** One record per kernel (an `ok` one wins), in the matrix's order, with its build log copied along. */
async function mergeKernels(runs: LoadedRun[], order: string[], outDir: string, taken: Taken): Promise<KernelRecord[]> {
  const chosen = new Map<string, { k: KernelRecord; run: LoadedRun }>();
  for (const run of runs) for (const k of run.summary.kernels) if (chosen.get(k.spec)?.k.status !== 'ok') chosen.set(k.spec, { k, run });
  const out: KernelRecord[] = [];
  for (const spec of order) {
    const c = chosen.get(spec);
    if (c === undefined) continue;
    const { buildLog, config, patches, ...rest } = c.k;
    // the kept .config and patches travel like the build log (a lost copy is left out, never pointed at)
    const keptConfig = config !== undefined ? await copyBuildLog(c.run, config, outDir, taken) : undefined;
    const keptPatches = patches !== undefined ? await copyAll(c.run, patches, outDir, taken) : undefined;
    const k: KernelRecord = { ...rest, ...(keptConfig !== undefined ? { config: keptConfig } : {}), ...(keptPatches !== undefined ? { patches: keptPatches } : {}) };
    // a shard that lost its copy keeps the kernel, without a path that would point at nothing
    const copied = buildLog !== undefined ? await copyBuildLog(c.run, buildLog, outDir, taken) : undefined;
    if (buildLog === undefined || copied === undefined || copied === buildLog) {
      out.push(copied !== undefined ? { ...k, buildLog: copied } : k);
      continue;
    }
    out.push({ ...k, buildLog: copied, ...(k.message !== undefined ? { message: k.message.replaceAll(buildLog, copied) } : {}) });
  }
  return out;
}

async function copyAll(run: LoadedRun, rels: string[], outDir: string, taken: Taken): Promise<string[]> {
  const out: string[] = [];
  for (const rel of rels) {
    const copied = await copyBuildLog(run, rel, outDir, taken);
    if (copied !== undefined) out.push(copied);
  }
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
