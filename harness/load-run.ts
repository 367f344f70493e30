import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.ts';
import type { Summary } from './results.ts';
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
