/**
 * What `npm run report` reads: a run directory (summary.json and its cells), or a bisection's directory
 * (bisect.json), whose failure is shown from the matrix run of the first bad commit (else the bad end).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRun, type LoadedRun } from '../load-run.ts';
import type { BisectReport, StepRecord } from '../bisect/record.ts';
import { UsageError } from '../errors.ts';

export interface ReportInput {
  /** The run whose cells are reported; absent for a bisection that has no failing run to show. */
  run?: LoadedRun;
  bisect?: { dir: string; report: BisectReport };
}

/** The step run that shows the failure: the first bad commit's bad run, else the bad end's. */
function failingStepRun(b: BisectReport): string | undefined {
  const bad = (s: StepRecord) => s.runs.find((r) => r.code === 1 && r.results !== undefined)?.results;
  const first = b.firstBad !== undefined ? b.steps.filter((s) => s.commit === b.firstBad!.commit).map(bad).find((r) => r !== undefined) : undefined;
  return first ?? b.steps.filter((s) => s.role === 'bad-end').map(bad).find((r) => r !== undefined);
}

export async function loadReportInput(path: string): Promise<ReportInput> {
  const isDir = await stat(path).then((s) => s.isDirectory(), () => undefined);
  if (isDir === undefined) throw new UsageError(`${path}: no such run directory`);
  const bisectFile = join(path, 'bisect.json');
  const text = isDir ? await readFile(bisectFile, 'utf8').catch(() => undefined) : undefined;
  if (text === undefined) return { run: await loadRun(path, 'report') };
  let report: BisectReport;
  try {
    report = JSON.parse(text) as BisectReport;
  } catch (e) {
    throw new UsageError(`report ${path}: ${bisectFile} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(report.steps) || typeof report.status !== 'string') throw new UsageError(`report ${path}: ${bisectFile} has no steps/status: not a bisection record`);
  const rel = failingStepRun(report);
  const run = rel !== undefined ? await loadRun(join(path, rel), 'report').catch(() => undefined) : undefined;
  return { ...(run !== undefined ? { run } : {}), bisect: { dir: path, report } };
}
