/**
 * The default library's throughput on one kernel (every scenario not marked slow, as `npm run matrix` runs
 * it without --scenario): `npm run matrix` as a child process for each --jobs and --share-guest asked for,
 * wall time and cells per minute from what it really ran.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../vm/cache.ts';
import type { Summary } from '../results.ts';

export interface CellsBench {
  jobs: number;
  /** --share-guest: scenarios per booted guest */
  shareGuest: number;
  /** QEMU guests booted (one guests/<n> directory each when shared; one per cell otherwise) */
  boots: number;
  cells: number;
  wallMs: number;
  cellsPerMinute: number;
  verdicts: Record<string, number>;
  meanCellMs: number;
  /** slow scenarios the matrix left out (the default library runs without them) */
  slowNotRun: string[];
}

export async function benchCells(kernel: string, jobs: number, shareGuest: number, resultsRoot: string, scenario?: string, extra: readonly string[] = []): Promise<CellsBench> {
  const results = join(resultsRoot, `jobs${jobs}-share${shareGuest}${extra.join('').replace(/[^A-Za-z0-9]+/g, '-')}`);
  const args = [
    '--import', 'tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--kernel', kernel, '--jobs', String(jobs), '--share-guest', String(shareGuest), '--results', results,
  ];
  if (scenario !== undefined) args.push('--scenario', scenario);
  args.push(...extra);
  const t = Date.now();
  const run = await execa('node', args, { cwd: repoRoot(), reject: false, stdio: ['ignore', 'ignore', 'inherit'] });
  const wallMs = Date.now() - t;
  const summaryFile = join(results, 'latest', 'summary.json');
  // A usage error (e.g. a --scenario that matches nothing) ends the matrix before any run directory exists.
  if (!existsSync(summaryFile)) throw new Error(`npm run matrix ${args.slice(3).join(' ')} exited ${run.exitCode} without a run (its message is above)`);
  const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
  const verdicts: Record<string, number> = {};
  for (const c of s.cells) verdicts[c.verdict] = (verdicts[c.verdict] ?? 0) + 1;
  const meanCellMs = s.cells.reduce((a, c) => a + c.durationMs, 0) / Math.max(1, s.cells.length);
  const guests = join(results, 'latest', 'guests');
  const boots = shareGuest > 1 && existsSync(guests) ? readdirSync(guests).length : s.cells.length;
  return {
    jobs, shareGuest, boots, cells: s.cells.length, wallMs, cellsPerMinute: (s.cells.length / wallMs) * 60_000, verdicts, meanCellMs,
    slowNotRun: s.plan?.slowNotRun?.scenarios ?? [],
  };
}
