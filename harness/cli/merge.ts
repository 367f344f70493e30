/**
 * npm run merge -- [--results DIR] [--baseline RUN] <run-dir>...
 *
 * Merges runs (the shards of a matrix, or repeated runs) into one new run directory with its own summary.json
 * and reports, and exits like `npm run matrix` would have for the whole matrix; a shard missing, interrupted
 * or with a summary.json cut short makes it 125 (unless a failure makes it 1), each named on stderr.
 */
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../../vm/cache.ts';
import { loadRun, UnreadableRunError } from '../load-run.ts';
import { parseCommand } from '../config.ts';
import { runMain } from './main.ts';
import { endRun } from './end-run.ts';
import { log, parsedOrHelp } from './pipeline.ts';
import { checkSummary, mergeRuns, mergeWarnings } from '../merge.ts';
import { reportOrder } from '../reports/order.ts';
import { fileReporters } from '../reporters/files.ts';
import { formatCellLine, formatEnd } from '../reporters/line.ts';
import { Reporters } from '../reporters/reporter.ts';

async function main(argv: string[]): Promise<number> {
  const cmd = new Command('merge')
    .description('Merge run directories (e.g. the shards of one matrix) into one run with its summary and reports.')
    .argument('<run-dir...>', 'run directories (results/<run-id>) to merge')
    .option('--results <dir>', 'results root for the merged run', join(repoRoot(), 'results'))
    .option('--baseline <run-dir>', 'compare the merged run with an earlier run; regressions decide the exit code');
  const o = parsedOrHelp(() => {
    parseCommand(cmd, argv);
    return cmd.opts<{ results: string; baseline?: string }>();
  });
  if (o === undefined) return 0;
  const runs = [];
  const unreadable: string[] = [];
  for (const dir of cmd.args) {
    try {
      runs.push(await loadRun(dir, 'merge'));
    } catch (e) {
      // A shard whose summary.json was cut short is a shard missing, not a mistyped argument.
      if (!(e instanceof UnreadableRunError)) throw e;
      unreadable.push(`${e.message}; its cells are missing`);
    }
  }
  const baseline = o.baseline !== undefined ? await loadRun(o.baseline) : undefined;
  for (const w of mergeWarnings(runs)) log(`merge: warning: ${w}`);
  if (runs.length === 0) {
    for (const u of unreadable) log(`merge: incomplete: ${u}`);
    log('merge: no run could be read: nothing merged');
    return 125;
  }
  const merged = await mergeRuns(runs, resolve(o.results), ['merge', ...argv], { unreadable });
  for (const why of merged.summary.incomplete ?? []) log(`merge: incomplete: ${why}`);
  const code = await endRun(merged, new Reporters(fileReporters()), merged.summary.status === 'complete' ? 'complete' : 'interrupted', {
    ...(baseline !== undefined ? { baseline } : {}), check: checkSummary,
  });
  process.stdout.write(`merged ${runs.length} run(s), ${merged.summary.cells.length} cell(s) -> ${merged.dir}\n`);
  for (const c of reportOrder(merged.summary)) process.stdout.write(`${formatCellLine(c)}\n`);
  process.stdout.write(formatEnd(merged.summary, merged.dir));
  return code;
}

runMain('integrity-harness merge', () => main(process.argv.slice(2)));
