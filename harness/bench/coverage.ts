// What --coverage costs a run: the default library on one kernel built here, without and with it. Both kernels
// are built (or taken from the cache) before the clock starts, so the ratio is the run's, not the build's.
import { join } from 'node:path';
import { execa } from 'execa';
import { repoRoot } from '../../vm/cache.ts';
import { DEFAULT_SHARE_GUEST } from '../config.ts';
import { benchCells, type CellsBench } from './cells.ts';

export interface CoverageBench {
  kernel: string;
  without: CellsBench;
  with: CellsBench;
  /** with / without wall time */
  ratio: number;
}

// The matrix builds what it runs: a warm-up run of one short scenario builds the kernel, untimed.
async function buildFirst(kernel: string, extra: readonly string[], resultsRoot: string): Promise<void> {
  const args = ['--import', 'tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--kernel', kernel, ...extra,
    '--scenario', 'integrity/001*', '--jobs', '1', '--results', join(resultsRoot, 'warm-up')];
  await execa('node', args, { cwd: repoRoot(), reject: false, stdio: ['ignore', 'ignore', 'inherit'] });
}

export async function benchCoverage(kernel: string, resultsRoot: string, scenario?: string): Promise<CoverageBench> {
  await buildFirst(kernel, [], resultsRoot);
  await buildFirst(kernel, ['--coverage'], resultsRoot);
  const without = await benchCells(kernel, 2, DEFAULT_SHARE_GUEST, resultsRoot, scenario);
  const withCov = await benchCells(kernel, 2, DEFAULT_SHARE_GUEST, resultsRoot, scenario, ['--coverage']);
  return { kernel, without, with: withCov, ratio: withCov.wallMs / without.wallMs };
}
