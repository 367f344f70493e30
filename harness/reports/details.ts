import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanConsole } from '../console.ts';
import type { CellRecord } from '../results.ts';
import type { Disagreement } from '../verdict/types.ts';
import type { StepRecord } from '../run/session/observations.ts';

/** What a report shows of a cell beyond its summary record, read back from the cell's directory. */
export interface CellDetails {
  steps: StepRecord[];
  disagreements: Disagreement[];
  /** The console around the first oops when there is one, else its last lines; absent when there is no console. */
  console?: { kind: 'oops' | 'tail'; line?: string; text: string };
}

const TAIL_LINES = 30;
const MAX_EXCERPT = 16_000;

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

function parseSteps(text: string | undefined): StepRecord[] {
  const out: StepRecord[] = [];
  for (const line of (text ?? '').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as StepRecord);
    } catch {
      // An interrupted cell can leave a torn last line; the steps before it still count.
    }
  }
  return out;
}

export function consoleExcerpt(text: string): CellDetails['console'] {
  const finding = scanConsole(text);
  if (finding !== undefined) return { kind: 'oops', line: finding.line, text: finding.excerpt.slice(0, MAX_EXCERPT) };
  const lines = text.trimEnd().split('\n');
  return { kind: 'tail', text: lines.slice(-TAIL_LINES).join('\n').slice(-MAX_EXCERPT) };
}

/** Reads steps.jsonl, disagreements.json and console.log of the execution a cell's verdict comes from. */
export async function loadCellDetails(runDir: string, cell: Pick<CellRecord, 'dir'>): Promise<CellDetails> {
  if (cell.dir === '') return { steps: [], disagreements: [] };
  const dir = join(runDir, cell.dir);
  const [steps, dis, con] = await Promise.all([
    readText(join(dir, 'steps.jsonl')), readText(join(dir, 'disagreements.json')), readText(join(dir, 'console.log')),
  ]);
  let disagreements: Disagreement[] = [];
  try {
    disagreements = dis !== undefined ? (JSON.parse(dis) as Disagreement[]) : [];
  } catch {
    disagreements = [];
  }
  return {
    steps: parseSteps(steps), disagreements,
    ...(con !== undefined && con.trim() !== '' ? { console: consoleExcerpt(con) } : {}),
  };
}

export async function loadAllDetails(runDir: string, cells: CellRecord[]): Promise<Map<CellRecord, CellDetails>> {
  return new Map(await Promise.all(cells.map(async (c) => [c, await loadCellDetails(runDir, c)] as const)));
}

export function formatDisagreement(d: Disagreement): string {
  const where = d.block !== undefined ? ` block ${d.block}${d.sector !== undefined ? ` (sector ${d.sector})` : ''}` : '';
  return `step ${d.step} ${d.kind}${where}: expected ${d.expected}, found ${d.found}`;
}
