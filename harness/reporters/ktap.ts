import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDisagreement, loadAllDetails, type CellDetails } from '../reports/details.ts';
import { reportOrder } from '../reports/order.ts';
import type { CellRecord, Summary } from '../results.ts';
import type { Reporter } from './reporter.ts';

/** A KTAP description may not hold '#' and no KTAP field may span lines. */
const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
const description = (s: string) => oneLine(s).replace(/#/g, '_');

const MAX_DISAGREEMENTS = 5;

function diagnostics(c: CellRecord, d: CellDetails): string[] {
  const out: string[] = [];
  if (c.baseline?.change === 'regression') out.push(`regression: ${c.baseline.verdict} in the baseline, ${c.verdict} now`);
  if (c.flaky) out.push(`flaky: ${(c.runs ?? []).map((r) => `rep ${r.repeat} try ${r.attempt} ${r.verdict}`).join(', ')}`);
  if (c.verdict === 'fail' || c.verdict === 'crash') out.push(c.reason);
  if (c.signature !== undefined && c.verdict !== 'pass') out.push(`signature: ${c.signature}`);
  for (const x of d.disagreements.slice(0, MAX_DISAGREEMENTS)) out.push(formatDisagreement(x));
  if (d.disagreements.length > MAX_DISAGREEMENTS) out.push(`... ${d.disagreements.length - MAX_DISAGREEMENTS} more in ${c.dir}/disagreements.json`);
  if (c.verdict !== 'pass' && c.dir !== '') out.push(`console: ${c.dir}/console.log`);
  return out.map((l) => `# ${oneLine(l)}`);
}

/** ok / not ok and the directive: SKIP for skip, TIMEOUT for hang, ERROR for the harness's own failures. */
function resultLine(n: number, c: CellRecord): string {
  const name = description(c.id);
  switch (c.verdict) {
    case 'pass': return `ok ${n} ${name}`;
    case 'skip': return `ok ${n} ${name} # SKIP ${oneLine(c.reason)}`;
    case 'hang': return `not ok ${n} ${name} # TIMEOUT ${oneLine(c.reason)}`;
    case 'error': return `not ok ${n} ${name} # ERROR ${oneLine(c.reason)}`;
    default: return `not ok ${n} ${name}`;
  }
}

/** KTAP version 1 (Documentation/dev-tools/ktap.rst): one test per cell, diagnostics just before its result. */
export function buildKtap(summary: Summary, details: Map<CellRecord, CellDetails>): string {
  const cells = reportOrder(summary);
  const lines = ['KTAP version 1', `1..${cells.length}`, `# integrity-harness run ${summary.runId}: ${cells.length} cell(s)`];
  cells.forEach((c, i) => {
    lines.push(...diagnostics(c, details.get(c) ?? { steps: [], disagreements: [] }), resultLine(i + 1, c));
  });
  const counts = Object.entries(summary.counts).map(([v, n]) => `${v}:${n}`).join(' ');
  lines.push(`# Totals: ${counts}`);
  return `${lines.join('\n')}\n`;
}

export class KtapReporter implements Reporter {
  async onEnd(summary: Summary, runDir: string): Promise<void> {
    await writeFile(join(runDir, 'ktap.txt'), buildKtap(summary, await loadAllDetails(runDir, summary.cells)));
  }
}
