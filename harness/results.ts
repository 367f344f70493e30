import { randomBytes } from 'node:crypto';
import { hostname, cpus, totalmem } from 'node:os';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AccelChoice } from '../vm/qemu/accel.ts';
import type { CellResult, Verdict } from './run/observations.ts';

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
  /** Kernels built here: the build log, relative to the run directory. */
  buildLog?: string;
  /** Kernels built here: =y options of the Kconfig fragments that the final .config lacks. */
  missingOptions?: string[];
  image?: { path: string; hash: string; fromCache: boolean; modules: string[] };
}

export interface CellRecord {
  id: string;
  kernel: string;
  scenario: string;
  verdict: Verdict;
  reason: string;
  durationMs: number;
  bootMs?: number;
  kernelRelease?: string;
  signature?: string;
  /** Cell directory relative to the run directory. */
  dir: string;
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

  static async create(resultsRoot: string, command: string[], runId = newRunId()): Promise<RunResults> {
    const dir = join(resultsRoot, runId);
    await mkdir(dir, { recursive: true });
    const summary: Summary = {
      schemaVersion: SUMMARY_SCHEMA_VERSION, runId, status: 'running', startedAt: new Date().toISOString(), command,
      host: { hostname: hostname(), cpus: cpus().length, memoryBytes: totalmem() }, kernels: [], cells: [],
      counts: { pass: 0, fail: 0, crash: 0, hang: 0, error: 0, skip: 0 },
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

  async addCell(kernel: string, scenario: string, dir: string, r: Pick<CellResult, 'verdict' | 'reason' | 'durationMs' | 'bootMs' | 'kernelRelease' | 'signature'>): Promise<CellRecord> {
    const rec: CellRecord = {
      id: `${kernel}/${scenario}`, kernel, scenario, verdict: r.verdict, reason: r.reason, durationMs: r.durationMs,
      dir: dir.startsWith(this.dir) ? dir.slice(this.dir.length + 1) : dir,
      ...(r.bootMs !== undefined ? { bootMs: r.bootMs } : {}),
      ...(r.kernelRelease !== undefined ? { kernelRelease: r.kernelRelease } : {}),
      ...(r.signature !== undefined ? { signature: r.signature } : {}),
    };
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
