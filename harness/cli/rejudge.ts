/**
 * npm run rejudge -- <run-dir> [--json]
 *
 * Re-applies the current model to a stored run (harness/rejudge/): each execution is replayed from its
 * observations.jsonl through the cell code of today, and the run's verdicts are composed again (repeats,
 * gate, baseline). Prints the cells whose verdict or disagreements would change, with why, and the cells
 * that could not be replayed; changes nothing in the run. Exit code as `npm run matrix` would give the run
 * judged this way (0 good, 1 bad, 125 not judged); 255 on a run directory that is not one.
 */
import { loadRun } from '../load-run.ts';
import { changed, rejudgeRun } from '../rejudge/rejudge.ts';
import type { Disagreement } from '../verdict/types.ts';
import { runMain } from './main.ts';

const first = (ds: Disagreement[]) => {
  const d = ds[0];
  return d === undefined ? 'none' : `step ${d.step} ${d.kind}${d.block !== undefined ? ` block ${d.block}` : ''}: expected ${d.expected}, found ${d.found}`;
};

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const paths = argv.filter((a) => a !== '--json');
  if (paths.length !== 1 || argv.includes('--help')) {
    process.stdout.write('usage: npm run rejudge -- <run-dir> [--json]   (re-judges a stored run with the current model)\n');
    return argv.includes('--help') ? 0 : 255;
  }
  const run = await loadRun(paths[0]!, 'rejudge');
  const r = await rejudgeRun(run.dir);
  if (json) {
    process.stdout.write(`${JSON.stringify({ exitCode: r.exitCode, cells: r.cells }, null, 2)}\n`);
    return r.exitCode;
  }
  let same = 0;
  let notReplayed = 0;
  /** a note shared by many re-judged cells (the audit without kept images) is said once, with the count */
  const notes = new Map<string, string[]>();
  for (const c of r.cells) {
    const moved = c.executions.filter(changed);
    const unreplayed = c.executions.filter((e) => e.after === undefined);
    for (const e of moved) {
      process.stdout.write(`CHANGED  ${c.id} (${e.dir}): ${e.before.verdict} -> ${e.after!.verdict}; disagreements ${e.before.disagreements.length} -> ${e.after!.disagreements.length}\n`);
      process.stdout.write(`  was: ${first(e.before.disagreements)}\n  now: ${first(e.after!.disagreements)}\n  ${e.after!.reason}\n`);
    }
    for (const e of unreplayed) process.stdout.write(`KEPT     ${c.id} (${e.dir}): ${e.before.verdict}: ${e.note}\n`);
    for (const e of c.executions.filter((x) => x.after !== undefined && x.note !== undefined)) notes.set(e.note!, [...(notes.get(e.note!) ?? []), c.id]);
    if (moved.length === 0 && unreplayed.length === 0) same++;
    if (unreplayed.length > 0) notReplayed++;
    if (c.before !== c.after) process.stdout.write(`VERDICT  ${c.id}: ${c.before} -> ${c.after}\n`);
  }
  for (const [note, ids] of notes) process.stdout.write(`NOTE     ${ids.length === 1 ? ids[0] : `${ids.length} cells`}: ${note}\n`);
  const g = r.summary.gate;
  process.stdout.write(`${r.cells.length} cell(s): ${same} judged the same, ${r.cells.length - same - notReplayed} changed, ${notReplayed} with executions not replayed` +
    `${g !== undefined ? `; gate: ${g.regressions} regression(s), ${g.unjudged} unjudged` : ''}; exit ${r.exitCode}\n`);
  return r.exitCode;
}

runMain('rejudge', () => main(process.argv.slice(2)));
