import { randomBytes } from 'node:crypto';
import { hostname, cpus, totalmem } from 'node:os';
import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccelChoice } from '../vm/qemu/accel.ts';
import type { Outcome, Verdict } from './verdict/types.ts';

export const SUMMARY_SCHEMA_VERSION = 1;

export interface KernelRecord {
  spec: string;
  label?: string;
  release?: string;
  source?: string;
  version?: string;
  /** ok, or why its cells were skipped/errored before booting. */
  status: 'ok' | 'unavailable' | 'build-failed' | 'error';
  message?: string;
  /** Unavailable kernels: the one-line reason each of its skipped cells carries (message holds the how-to). */
  reason?: string;
  /** Kernels built here: the build log, relative to the run directory. */
  buildLog?: string;
  /** The kernel's .config, copied into the run (relative to the run directory), when it has one. */
  config?: string;
  /** Kernels built from source: the --patch files in the order applied, copied into the run (relative paths). */
  patches?: string[];
  /** Kernels built here: =y options of the Kconfig fragments that the final .config lacks. */
  missingOptions?: string[];
  /** What QEMU's -kernel got (a bzImage, or a vmlinux booted through PVH); absent when it never resolved. */
  bootImage?: string;
  image?: { path: string; hash: string; fromCache: boolean; modules: string[] };
  /** --coverage kernels: the profiled objects, the build dir and where the notes (.gcno) of the build are. */
  coverage?: { objects: string[]; buildDir: string; notesDir: string };
}

/**
 * --share-guest: a crash, hang or fail of an execution that was not the first in its guest. It stays the
 * verdict (nothing the kernel did is lost); the execution also ran again first in a fresh guest, which says
 * whether the failure needs the sequence.
 */
export interface SharedRunRecord {
  verdict: Verdict;
  reason: string;
  signature?: string;
  /** the scenarios that ran before it in that guest, in order */
  before: string[];
  /** its files (<cell>/shared-run) and its guest, relative to the run directory */
  dir: string;
  guest: string;
  /** the run first in a fresh guest */
  rerun?: { verdict: Verdict; reason: string; signature?: string; dir: string };
}

/** One execution of a cell: repetition `repeat` (--repeat), attempt `attempt` (--retries, after an `error`). */
export interface RunRecord extends Outcome {
  /** --share-guest: the run in the shared sequence that this verdict comes from, with the fresh guest's beside it */
  sharedRun?: SharedRunRecord;
  repeat: number;
  attempt: number;
  /** Directory of this execution, relative to the run directory ('' when nothing ran). */
  dir: string;
  /** --share-guest: the booted guest it ran in (guests/<kernel>-<n>: console.log, guest.json), relative to the run directory. */
  guest?: string;
  /** Disagreements with the model it recorded (disagreements.json in dir), kept also when it ended in error. */
  disagreements?: number;
}

/** How a cell compares with the same cell in a --baseline run. */
export type BaselineChange = 'regression' | 'unjudged' | 'fixed' | 'same' | 'new';

export interface CellRecord extends Outcome {
  /** "<kernel>/<scenario>" */
  id: string;
  /** Kernel label (uname -r when known; else the --kernel text). */
  kernel: string;
  /** The --kernel text that planned this cell (shards and baselines match on it). */
  kernelSpec: string;
  scenario: string;
  /** verdict: the worst over all repetitions (crash > hang > fail > error > pass > skip). */
  kernelRelease?: string;
  /** Directory of the execution the verdict comes from, relative to the run directory ('' when nothing ran). */
  dir: string;
  /** --share-guest: the guest the verdict's execution ran in (guests/<kernel>-<n>), relative to the run directory. */
  guest?: string;
  /** Repetitions judged the kernel differently (e.g. pass and crash): reported apart from steady failures. */
  flaky?: boolean;
  /** Disagreements with the model the verdict's execution recorded, kept also when it ended in error. */
  disagreements?: number;
  /** Every execution, when there was more than one (--repeat, --retries). */
  runs?: RunRecord[];
  /** --share-guest: the verdict comes from a shared sequence; the fresh guest's run is beside it */
  sharedRun?: SharedRunRecord;
  baseline?: { verdict: Verdict | null; change: BaselineChange };
  /** Gate runs (npm run gate): which side the cell ran on and, on the candidate, how it compares with base. */
  gate?: GateCellRecord;
}

/**
 * A cell of a gate run. `base` and `candidate` cells run a scenario on one kernel; a candidate cell carries
 * the base cell's verdict and the change. `compat` cells read, on one kernel, a disk the other wrote.
 */
export interface GateCellRecord {
  role: 'base' | 'candidate' | 'compat';
  /** candidate cells: the same scenario's verdict on base (null when base has no such cell) */
  base?: Verdict | null;
  /** candidate and compat cells */
  change?: BaselineChange;
  /** compat cells: which kernel wrote the disk and which read it */
  writer?: 'base' | 'candidate';
  reader?: 'base' | 'candidate';
}

/** What a gate run compared (summary.gate). */
export interface GateRecord {
  base: { spec: string; label?: string };
  candidate: { spec: string; label?: string };
  regressions: number;
  unjudged: number;
  fixed: number;
  /** cells whose change was judged on both sides (candidate cells with both verdicts judged, compat cells that ran) */
  compared: number;
  /** the compatibility pass's stacks (scenario ids), empty with --no-compat */
  compat: string[];
}

export interface ShardSpec {
  index: number;
  total: number;
}

/** What was planned, before any kernel was resolved. */
export interface PlanRecord {
  /** Every --kernel of the matrix, in the order given (merge orders kernels by it). */
  kernels?: string[];
  /** Cells in the whole matrix (kernels x scenarios). */
  totalCells: number;
  /** Cells in this run (its shard), the gate's compatibility cells among them. */
  cells: number;
  /** A gate run: how many of `cells` (and of totalCells) are compatibility cells. */
  compatCells?: number;
  repeat: number;
  retries: number;
  shard?: ShardSpec;
  /**
   * Slow scenarios the default selection left out (no --scenario, no --slow): their ids and globs covering
   * them. Empty lists when nothing was left out; absent in runs older than the field.
   */
  slowNotRun?: { scenarios: string[]; globs: string[] };
}

export interface Summary {
  schemaVersion: number;
  runId: string;
  status: 'running' | 'complete' | 'interrupted';
  startedAt: string;
  endedAt?: string;
  command: string[];
  host: { hostname: string; cpus: number; memoryBytes: number; qemu?: string };
  accelerator?: AccelChoice;
  kernels: KernelRecord[];
  cells: CellRecord[];
  counts: Record<Verdict, number>;
  exitCode?: number;
  plan?: PlanRecord;
  /** Set by `npm run merge`: the runs this one was made from. */
  mergedFrom?: Array<{ runId: string; dir: string; shard?: ShardSpec }>;
  baseline?: { runId: string; dir: string; regressions: number; unjudged: number; fixed: number };
  /** Set by `npm run gate`: which kernel is base and which candidate, and what changed. */
  gate?: GateRecord;
  /** Set when the run ends: the kernels that were not tested (harness/untested.ts); they make the exit code 125. */
  untested?: UntestedKernel[];
  /** Set by `npm run merge`: why the merged run is not the whole matrix (a shard missing, interrupted or unreadable); exit 125. */
  incomplete?: string[];
  /** --coverage runs: the kernels' coverage of the profiled objects (harness/coverage/). */
  coverage?: CoverageRecord;
}

export interface CoverageRatio {
  hit: number;
  found: number;
  pct: number | null;
}

/** What --coverage measured: files relative to the run directory, one entry per kernel built with it. */
export interface CoverageRecord {
  /** every scenario on every kernel, merged (lcov -a) */
  lcov?: string;
  /** genhtml's line view of `lcov` */
  html?: string;
  /** where each scenario's functions are listed (report.html reads it) */
  functions?: string;
  kernels: Array<{
    kernel: string;
    spec: string;
    files: Array<{ file: string; lines: CoverageRatio; functions: CoverageRatio; branches: CoverageRatio }>;
    scenarios: Array<{
      scenario: string;
      /** the scenario's tracefile */
      info?: string;
      lines?: number;
      functions?: number;
      /** lines / functions no other scenario of this kernel reached */
      uniqueLines?: number;
      uniqueFunctions?: number;
      /** why the scenario has no coverage (it did not run, crashed, or its counters could not be read) */
      missing?: string;
    }>;
  }>;
  /** what went wrong with lcov's tools, if anything */
  errors?: string[];
}

/**
 * Records a baseline comparison (verdict/baseline.ts) on the summary: each cell's annotation, in the order
 * of the cells, and the totals. The comparison itself never touches what was recorded.
 */
export function recordBaseline(summary: Summary, c: { cells: ReadonlyArray<NonNullable<CellRecord['baseline']>>; totals: NonNullable<Summary['baseline']> }): void {
  summary.cells.forEach((cell, i) => { cell.baseline = c.cells[i]; });
  summary.baseline = c.totals;
}

/** Records the gate's judgement (verdict/gate.ts) on the summary: a cell without an annotation keeps its own. */
export function recordGate(summary: Summary, c: { cells: ReadonlyArray<GateCellRecord | undefined>; totals: GateRecord }): void {
  summary.cells.forEach((cell, i) => {
    const g = c.cells[i];
    if (g !== undefined) cell.gate = g;
  });
  summary.gate = c.totals;
}

export function emptyCounts(): Record<Verdict, number> {
  return { pass: 0, fail: 0, crash: 0, hang: 0, error: 0, skip: 0 };
}

export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}-${randomBytes(2).toString('hex')}`;
}

/** File-system-safe directory name for a cell: kernel label and scenario id joined. */
export function cellDirName(kernelLabel: string, scenarioId: string): string {
  return `${kernelLabel}__${scenarioId}`.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/**
 * The run directory and its summary.json, rewritten (atomically) after every change so an interrupted
 * run still leaves a readable summary; results/latest points at the newest run.
 */
export class RunResults {
  readonly summary: Summary;

  private constructor(readonly dir: string, summary: Summary) {
    this.summary = summary;
  }

  static async create(resultsRoot: string, command: string[], opts: { runId?: string; plan?: PlanRecord } = {}): Promise<RunResults> {
    const runId = opts.runId ?? newRunId();
    const dir = join(resultsRoot, runId);
    await mkdir(dir, { recursive: true });
    const summary: Summary = {
      schemaVersion: SUMMARY_SCHEMA_VERSION, runId, status: 'running', startedAt: new Date().toISOString(), command,
      host: { hostname: hostname(), cpus: cpus().length, memoryBytes: totalmem() }, kernels: [], cells: [],
      counts: emptyCounts(), ...(opts.plan !== undefined ? { plan: opts.plan } : {}),
    };
    const r = new RunResults(dir, summary);
    await r.flush();
    const latest = join(resultsRoot, 'latest');
    await rm(latest, { force: true });
    await symlink(runId, latest).catch(() => undefined);
    return r;
  }

  cellDir(kernelLabel: string, scenarioId: string): string {
    return join(this.dir, 'cells', cellDirName(kernelLabel, scenarioId));
  }

  /** A path inside the run directory, as recorded in summary.json (relative; '' stays ''). */
  relative(path: string): string {
    return path.startsWith(this.dir + '/') ? path.slice(this.dir.length + 1) : path;
  }

  async addCell(rec: CellRecord): Promise<CellRecord> {
    this.summary.cells.push(rec);
    this.summary.counts[rec.verdict] += 1;
    await this.flush();
    return rec;
  }

  async finish(status: 'complete' | 'interrupted', exitCode: number): Promise<void> {
    this.summary.status = status;
    this.summary.endedAt = new Date().toISOString();
    this.summary.exitCode = exitCode;
    await this.flush();
  }

  /** For a forced exit (second Ctrl-C): no await left, so mark the summary and write it synchronously. */
  finishSync(status: 'interrupted', exitCode: number): void {
    this.summary.status = status;
    this.summary.endedAt = new Date().toISOString();
    this.summary.exitCode = exitCode;
    const tmp = join(this.dir, `.summary.json.${process.pid}.sync`);
    writeFileSync(tmp, JSON.stringify(this.summary, null, 2) + '\n');
    renameSync(tmp, join(this.dir, 'summary.json'));
  }

  private writing: Promise<void> = Promise.resolve();

  /** Serialised atomic rewrite of summary.json. */
  flush(): Promise<void> {
    const text = JSON.stringify(this.summary, null, 2) + '\n';
    this.writing = this.writing.then(async () => {
      const tmp = join(this.dir, `.summary.json.${process.pid}`);
      await writeFile(tmp, text);
      await rename(tmp, join(this.dir, 'summary.json'));
    });
    return this.writing;
  }
}

/** A requested kernel that was not tested (harness/untested.ts decides which). */
export interface UntestedKernel {
  /** The --kernel text. */
  kernel: string;
  /** Its label (uname -r) when it resolved. */
  label?: string;
  reason: string;
}
