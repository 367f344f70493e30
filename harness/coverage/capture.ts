// A scenario's counters (<cell>/coverage/gcda/, guest.ts) -> an lcov tracefile, with lcov's own geninfo
// (which runs gcov) against the notes of the build that made the kernel. Merging and the HTML view are
// lcov's too (lcov -a, genhtml).
import { readdir, symlink, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import type { KernelCoverage } from '../../vm/kernel/build.ts';
import { CELL_COVERAGE_DIR, CELL_GCDA_DIR } from './guest.ts';

export const CELL_TRACEFILE = join(CELL_COVERAGE_DIR, 'scenario.info');

/** lcov's test names are word characters only. */
export function testName(scenarioId: string): string {
  return scenarioId.replace(/\W/g, '_');
}

async function listGcda(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name.endsWith('.gcda')).map((e) => join(e.parentPath, e.name));
}

/** Why a command failed, for the report: its argv head and stderr tail. */
function failure(argv: readonly string[], r: { exitCode?: number | undefined; stderr?: unknown }): Error {
  const err = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
  return new Error(`${argv.slice(0, 2).join(' ')} exited ${r.exitCode}: ${err}`);
}

/**
 * Captures a cell's counters into <cell>/coverage/scenario.info; undefined when the cell has none (it did not
 * run, or crashed before they were read). Each .gcda gets its build's .gcno beside it, as debugfs does.
 */
export async function captureCell(cellDir: string, cov: KernelCoverage, scenarioId: string): Promise<string | undefined> {
  const gcdaDir = join(cellDir, CELL_GCDA_DIR);
  const gcda = await listGcda(gcdaDir);
  if (gcda.length === 0) return undefined;
  for (const file of gcda) {
    const rel = relative(gcdaDir, file).replace(/\.gcda$/, '.gcno');
    const gcno = join(gcdaDir, rel);
    if (!(await stat(gcno).catch(() => null))) await symlink(join(cov.notesDir, rel), gcno).catch(() => undefined);
  }
  const out = join(cellDir, CELL_TRACEFILE);
  const argv = ['geninfo', gcdaDir, '--base-directory', cov.buildDir, '--output-filename', out, '--test-name', testName(scenarioId),
    '--rc', 'lcov_branch_coverage=1', '--quiet'];
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw failure(argv, r);
  return out;
}

/** lcov -a over tracefiles (each test's records are kept apart, so genhtml can tell scenarios apart). */
export async function mergeTracefiles(inputs: readonly string[], out: string): Promise<void> {
  const argv = ['lcov', '--quiet', '--rc', 'lcov_branch_coverage=1', ...inputs.flatMap((f) => ['-a', f]), '-o', out];
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw failure(argv, r);
}

/** genhtml's line view of a tracefile into `outDir` (index.html). */
export async function renderHtml(tracefile: string, outDir: string, title: string): Promise<void> {
  const argv = ['genhtml', '--quiet', '--branch-coverage', '--function-coverage', '--show-details', '--title', title, '-o', outDir, tracefile];
  const r = await execa(argv[0]!, argv.slice(1), { reject: false });
  if (r.exitCode !== 0) throw failure(argv, r);
}
