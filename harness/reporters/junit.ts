import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatDisagreement, loadAllDetails, type CellDetails } from '../reports/details.ts';
import { kernelColumns, reportOrder } from '../reports/order.ts';
import type { CellRecord, Summary } from '../results.ts';
import { isFailure } from '../verdict/order.ts';
import { buildGateJunit } from './gate-junit.ts';
import type { Reporter } from './reporter.ts';

/** Text for XML 1.0: escaped, and without the control characters XML cannot hold at all (consoles have them). */
export function xmlText(s: string): string {
  return s
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

function properties(c: CellRecord): string {
  const p: Array<[string, string]> = [['kernel.spec', c.kernelSpec], ['verdict', c.verdict]];
  if (c.signature !== undefined) p.push(['signature', c.signature]);
  if (c.flaky) p.push(['flaky', `true: ${(c.runs ?? []).map((r) => r.verdict).join(',')}`]);
  if (c.baseline !== undefined) p.push(['baseline.verdict', c.baseline.verdict ?? 'none'], ['baseline.change', c.baseline.change]);
  if (c.dir !== '') p.push(['dir', c.dir]);
  return `      <properties>\n${p.map(([k, v]) => `        <property name="${xmlText(k)}" value="${xmlText(v)}"/>`).join('\n')}\n      </properties>\n`;
}

/** The body of a failure: what the model disagreed with, or the console around the first oops. */
function evidence(c: CellRecord, d: CellDetails): string {
  const parts = [c.reason];
  if (c.signature !== undefined) parts.push(`signature: ${c.signature}`);
  if (d.disagreements.length > 0) parts.push('model disagreements:', ...d.disagreements.map((x) => `  ${formatDisagreement(x)}`));
  if (d.console !== undefined) parts.push(d.console.kind === 'oops' ? 'console around the first oops:' : 'console (last lines):', d.console.text);
  return parts.join('\n');
}

function testcase(c: CellRecord, d: CellDetails): string {
  const open = `    <testcase classname="${xmlText(c.kernel)}" name="${xmlText(c.scenario)}" time="${secs(c.durationMs)}">\n${properties(c)}`;
  const msg = xmlText(c.reason.split('\n')[0]!.slice(0, 1000));
  let body = '';
  if (c.verdict === 'skip') body = `      <skipped message="${msg}"/>\n`;
  else if (c.verdict === 'error') body = `      <error type="error" message="${msg}">${xmlText(evidence(c, d))}</error>\n`;
  else if (c.verdict !== 'pass') body = `      <failure type="${c.verdict}" message="${msg}">${xmlText(evidence(c, d))}</failure>\n`;
  return `${open}${body}    </testcase>\n`;
}

/**
 * JUnit XML as CI systems read it: one <testsuite> per kernel, one <testcase> per cell (classname the kernel,
 * name the scenario). fail, crash and hang are <failure type=...> (the kernel's fault), error is <error>
 * (the harness's), skip is <skipped message=reason>.
 */
export function buildJunit(summary: Summary, details: Map<CellRecord, CellDetails>): string {
  if (summary.gate !== undefined) return buildGateJunit(summary, details, xmlText);
  const cells = reportOrder(summary);
  const tally = (list: CellRecord[]) => ({
    tests: list.length, failures: list.filter((c) => isFailure(c.verdict)).length,
    errors: list.filter((c) => c.verdict === 'error').length, skipped: list.filter((c) => c.verdict === 'skip').length,
    time: secs(list.reduce((t, c) => t + c.durationMs, 0)),
  });
  const attrs = (t: ReturnType<typeof tally>) => `tests="${t.tests}" failures="${t.failures}" errors="${t.errors}" skipped="${t.skipped}" time="${t.time}"`;
  const suites = kernelColumns(summary).map((k) => {
    const mine = cells.filter((c) => c.kernelSpec === k.spec);
    if (mine.length === 0) return '';
    return `  <testsuite name="${xmlText(k.label)}" ${attrs(tally(mine))} timestamp="${summary.startedAt}" hostname="${xmlText(summary.host.hostname)}">\n`
      + mine.map((c) => testcase(c, details.get(c) ?? { steps: [], disagreements: [] })).join('')
      + '  </testsuite>\n';
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="integrity-harness ${xmlText(summary.runId)}" ${attrs(tally(cells))}>\n${suites.join('')}</testsuites>\n`;
}

export class JunitReporter implements Reporter {
  async onEnd(summary: Summary, runDir: string): Promise<void> {
    await writeFile(join(runDir, 'junit.xml'), buildJunit(summary, await loadAllDetails(runDir, summary.cells)));
  }
}
