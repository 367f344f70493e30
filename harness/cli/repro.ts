/**
 * npm run repro -- <run-dir>...
 *
 * Writes the reproducer of every failing, crashing or hanging cell of a run again (cells/<cell>/repro/),
 * from what the run recorded: after the generator changed, or for a run merged from shards. Prints each
 * cell's repro directory, or why there is none. Exit 0; 255 on a run directory that is not one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../vm/cache.ts';
import { loadRun } from '../load-run.ts';
import { UsageError } from '../errors.ts';
import { wantsRepro, writeRepro } from '../repro/write.ts';
import type { CellResult } from '../run/session/observations.ts';
import { loadScenario } from '../scenario/load.ts';
import { runMain } from './main.ts';

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help')) {
    process.stdout.write('usage: npm run repro -- <run-dir>...   (writes cells/<cell>/repro/ for every fail, crash and hang)\n');
    return argv.length === 0 ? 255 : 0;
  }
  const scenarios = join(repoRoot(), 'scenarios');
  for (const path of argv) {
    const run = await loadRun(path, 'repro');
    for (const cell of run.summary.cells.filter((c) => wantsRepro(c.verdict) && c.dir !== '')) {
      const dir = join(run.dir, cell.dir);
      if (cell.gate?.role === 'compat') {
        process.stdout.write(`${cell.id}: a compatibility cell (two kernels): no reproducer\n`);
        continue;
      }
      const result = JSON.parse(await readFile(join(dir, 'result.json'), 'utf8').catch((e: unknown) => {
        throw new UsageError(`repro ${path}: ${cell.id} has no readable ${join(dir, 'result.json')}`, { cause: e });
      })) as CellResult;
      const scenario = await loadScenario(join(scenarios, `${cell.scenario}.yaml`), scenarios);
      await writeRepro({ dir, id: cell.id, scenario }, result);
      const none = await readFile(join(dir, 'repro', 'NOT-GENERATED.txt'), 'utf8').catch(() => undefined);
      process.stdout.write(none ?? `${cell.id}: ${join(dir, 'repro', 'repro.sh')}\n`);
    }
  }
  return 0;
}

runMain('repro', () => main(process.argv.slice(2)));
