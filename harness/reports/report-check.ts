/**
 * Checks of report.html as a browser shows it (used by the unit and the guest test): the grid's cells,
 * their colours on screen, and that a cell opens its details.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VERDICT_COLOURS } from '../reporters/html-assets.ts';
import type { Summary } from '../results.ts';
import { renderDom, screenshot } from './chromium.ts';
import { countColour, decodePng } from './png.ts';

/** A grid cell fills at least this many pixels of its colour at 1280x900; a count badge alone stays far below. */
export const CELL_PIXELS = 3000;

export interface GridCell {
  cell: string;
  verdict: string;
  href: string;
}

/** The grid cells of a rendered DOM: <td data-verdict data-cell><a href="#..."> */
export function gridCells(dom: string): GridCell[] {
  const out: GridCell[] = [];
  for (const m of dom.matchAll(/<td class="[^"]*" data-verdict="(\w+)" data-cell="([^"]+)"><a href="#([^"]+)"/g)) {
    out.push({ verdict: m[1]!, cell: m[2]!, href: m[3]! });
  }
  return out;
}

/** What the browser made of report.html: grid cells, which cell it opened, and verdict colour areas on screen. */
export async function inspectReport(runDir: string, open: { cellId: string }, shotFile: string): Promise<{
  cells: GridCell[]; opened: string; current: string[]; detailOf: string | undefined; pixels: Record<string, number>;
}> {
  const file = join(runDir, 'report.html');
  const plain = await renderDom(file);
  const cells = gridCells(plain);
  const target = cells.find((c) => c.cell === open.cellId);
  const dom = await renderDom(file, target?.href ?? 'none');
  const opened = /<html[^>]* data-open="([^"]*)"/.exec(dom)?.[1] ?? '';
  const current = [...dom.matchAll(/<a href="#([^"]+)"[^>]*aria-current="true"/g)].map((m) => m[1]!);
  const detailOf = new RegExp(`<section class="detail" id="${opened}" data-cell="([^"]+)"`).exec(dom)?.[1];
  await screenshot(file, shotFile, { width: 1280, height: 900 });
  const img = decodePng(await readFile(shotFile));
  const pixels = Object.fromEntries(Object.entries(VERDICT_COLOURS).map(([v, c]) => [v, countColour(img, c.bg)]));
  return { cells, opened, current, detailOf, pixels };
}

/** Verdicts a summary's grid must show. */
export function verdictsOf(s: Summary): Set<string> {
  return new Set(s.cells.map((c) => c.verdict));
}
