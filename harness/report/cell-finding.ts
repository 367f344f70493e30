/**
 * What a report says about one cell that did not pass: the oops (crash), the model's first disagreement
 * (fail), the console's last lines (hang), the reason (error, skip). Read from the cell's directory.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CellRecord } from '../results.ts';
import { loadCellDetails } from '../reports/details.ts';
import { describeDisagreements } from './disagreement.ts';
import { consoleTail, trimOops } from './oops.ts';

export interface CellFinding {
  /** What the lines are: 'oops', 'disagreement', 'console tail', 'reason'. */
  kind: 'oops' | 'disagreement' | 'console tail' | 'reason';
  lines: string[];
}

async function consoleOf(runDir: string, cell: CellRecord): Promise<string | undefined> {
  if (cell.dir === '') return undefined;
  return readFile(join(runDir, cell.dir, 'console.log'), 'utf8').catch(() => undefined);
}

const reasonLines = (cell: CellRecord) => cell.reason.split('\n').map((l) => l.trimEnd());

export async function cellFinding(runDir: string, cell: CellRecord): Promise<CellFinding> {
  if (cell.verdict === 'crash') {
    const text = await consoleOf(runDir, cell);
    const oops = text !== undefined ? trimOops(text) : undefined;
    return oops !== undefined ? { kind: 'oops', lines: oops } : { kind: 'reason', lines: reasonLines(cell) };
  }
  if (cell.verdict === 'fail') {
    const details = await loadCellDetails(runDir, cell);
    const words = describeDisagreements(details.disagreements, details.steps);
    // a fail without disagreements is a tool that failed in the guest: its reason names the command
    return words.length > 0 ? { kind: 'disagreement', lines: words } : { kind: 'reason', lines: reasonLines(cell) };
  }
  if (cell.verdict === 'hang') {
    const text = await consoleOf(runDir, cell);
    return text !== undefined ? { kind: 'console tail', lines: [...reasonLines(cell), '', ...consoleTail(text)] } : { kind: 'reason', lines: reasonLines(cell) };
  }
  return { kind: 'reason', lines: reasonLines(cell) };
}
