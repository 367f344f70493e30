import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.ts';
import type { BaselineChange, CellRecord, Summary } from './results.ts';
import type { Verdict } from './run/session/observations.ts';
import { loadSchema, validate } from './schema/validate.ts';

export interface LoadedRun {
  dir: string;
  summary: Summary;
}

/**
 * A run directory whose summary.json is there but does not parse: cut short (a full disk, an artifact upload
 * that stopped). A usage error where one run is asked for; a merge counts that run's cells as missing (125).
 */
export class UnreadableRunError extends UsageError {
  override name = 'UnreadableRunError';
}

/** Reads and validates <run-dir>/summary.json (a path to the summary.json itself works too). */
export async function loadRun(path: string, what = '--baseline'): Promise<LoadedRun> {
  const isDir = await stat(path).then((s) => s.isDirectory(), () => undefined);
  if (isDir === undefined) throw new UsageError(`${what} ${path}: no such run directory`);
  const file = isDir ? join(path, 'summary.json') : path;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what} ${path}: cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UnreadableRunError(`${what} ${path}: ${file} is truncated or not JSON (${text.length} bytes): ${(e as Error).message}`, { cause: e });
  }
  const errs = validate(loadSchema('summary'), json);
  if (errs.length > 0) throw new UsageError(`${what} ${path}: ${file} is not a run summary:\n  ${errs.slice(0, 5).join('\n  ')}`);
  return { dir: resolve(isDir ? path : dirname(path)), summary: json as Summary };
}

const BAD: Verdict[] = ['fail', 'crash', 'hang'];

export function classifyChange(before: Verdict | null, now: Verdict): BaselineChange {
  if (before === null) return 'new';
  if (before === 'pass' && BAD.includes(now)) return 'regression';
  if (before === 'pass' && now !== 'pass') return 'unjudged';
  if (BAD.includes(before) && now === 'pass') return 'fixed';
  return 'same';
}

/**
 * The baseline's cell for each current cell: same --kernel text and scenario; else same kernel label and
 * scenario; else, when each run has a single kernel (an A/B comparison of two kernels), the same scenario.
 */
export function matchBaseline(cells: CellRecord[], base: CellRecord[]): Map<CellRecord, CellRecord | undefined> {
  const bySpec = new Map(base.map((c) => [`${c.kernelSpec}\0${c.scenario}`, c]));
  const byLabel = new Map(base.map((c) => [`${c.kernel}\0${c.scenario}`, c]));
  const single = new Set(cells.map((c) => c.kernelSpec)).size === 1 && new Set(base.map((c) => c.kernelSpec)).size === 1;
  const byScenario = new Map(base.map((c) => [c.scenario, c]));
  return new Map(cells.map((c) => [
    c, bySpec.get(`${c.kernelSpec}\0${c.scenario}`) ?? byLabel.get(`${c.kernel}\0${c.scenario}`) ?? (single ? byScenario.get(c.scenario) : undefined),
  ]));
}

/** Annotates every cell of `summary` with its baseline verdict and change, and records the totals. */
export function applyBaseline(summary: Summary, base: LoadedRun): void {
  const matched = matchBaseline(summary.cells, base.summary.cells);
  classifyAgainst(summary, { runId: base.summary.runId, dir: base.dir }, (c) => matched.get(c)?.verdict ?? null);
}

/**
 * Each cell's change from its verdict in the baseline run `base` (`before`: null when it had no such cell),
 * and the totals in summary.baseline. A merge and a re-judged run take `before` from what was recorded.
 */
export function classifyAgainst(summary: Summary, base: { runId: string; dir: string }, before: (c: CellRecord) => Verdict | null): void {
  for (const cell of summary.cells) {
    const was = before(cell);
    cell.baseline = { verdict: was, change: classifyChange(was, cell.verdict) };
  }
  const count = (ch: BaselineChange) => summary.cells.filter((c) => c.baseline?.change === ch).length;
  summary.baseline = { runId: base.runId, dir: base.dir, regressions: count('regression'), unjudged: count('unjudged'), fixed: count('fixed') };
}
