import { coverageLines } from '../coverage/format.ts';
import { reportOrder } from '../reports/order.ts';
import type { CellRecord, Summary } from '../results.ts';
import { untestedLine } from '../untested.ts';
import { isFailure } from '../verdict/order.ts';
import type { Reporter, RunBeginInfo } from './reporter.ts';

const LABEL: Record<string, string> = { pass: 'PASS ', fail: 'FAIL ', crash: 'CRASH', hang: 'HANG ', error: 'ERROR', skip: 'SKIP ' };

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ');

export function formatCellLine(c: CellRecord): string {
  const secs = (c.durationMs / 1000).toFixed(1).padStart(6);
  const flaky = c.flaky ? ' (flaky)' : '';
  return `${LABEL[c.verdict] ?? c.verdict} ${secs}s  ${c.id}${flaky}${c.verdict === 'pass' && !c.flaky ? '' : `  -- ${oneLine(c.reason)}`}`;
}

export function formatBegin(info: RunBeginInfo): string {
  const reps = info.executions !== info.cells ? ` (${info.executions} executions)` : '';
  return `integrity-harness: ${info.cells} cell(s)${reps} on ${info.kernels.join(', ') || 'no kernel'}, ${info.jobs} at a time -> ${info.runDir}\n`;
}

/** "9 slow scenarios not run (crash/*): add --slow", so a quick run is never taken for the whole library. */
export function slowNotRunLine(s: Pick<Summary, 'plan'>): string | undefined {
  const left = s.plan?.slowNotRun;
  if (left === undefined || left.scenarios.length === 0) return undefined;
  const n = left.scenarios.length;
  return `${n} slow scenario${n === 1 ? '' : 's'} not run (${left.globs.join(', ')}): add --slow`;
}

/**
 * The closing block: regressions first (with a baseline they decide the exit code), then flaky cells apart
 * from the steadily failing ones, then one line per untested kernel and what a merge lacks, then the counts.
 */
export function formatEnd(s: Summary, runDir: string): string {
  const cells = reportOrder(s);
  const out: string[] = [''];
  const section = (title: string, list: CellRecord[]) => {
    if (list.length === 0) return;
    out.push(`${title} (${list.length}):`, ...list.map((c) => `  ${formatCellLine(c)}`));
  };
  if (s.baseline !== undefined) {
    section(`Regressions against ${s.baseline.runId}`, cells.filter((c) => c.baseline?.change === 'regression'));
    section(`Passed in ${s.baseline.runId}, not judged now`, cells.filter((c) => c.baseline?.change === 'unjudged'));
  }
  section('Flaky (repetitions disagree)', cells.filter((c) => c.flaky));
  section(s.baseline !== undefined ? 'Failing, as in the baseline or new' : 'Failing',
    cells.filter((c) => !c.flaky && isFailure(c.verdict) && c.baseline?.change !== 'regression'));
  const parts = Object.entries(s.counts).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`);
  const flaky = s.cells.filter((c) => c.flaky).length;
  if (flaky > 0) parts.push(`${flaky} flaky`);
  if (s.baseline !== undefined) parts.push(`${s.baseline.regressions} regression(s), ${s.baseline.fixed} fixed against ${s.baseline.runId}`);
  const slow = slowNotRunLine(s);
  if (slow !== undefined) out.push(slow);
  if (s.coverage !== undefined) out.push(...coverageLines(s.coverage));
  // One line per kernel that was not tested (its cells are not listed one by one), then what a merge lacks.
  out.push(...(s.untested ?? []).map(untestedLine));
  out.push(...(s.incomplete ?? []).map((why) => `INCOMPLETE: ${why}`));
  out.push(`${parts.join(', ') || 'no cells'} (accelerator: ${s.accelerator?.accel ?? 'n/a'}); results: ${runDir}/summary.json, report.html, junit.xml, ktap.txt`);
  return `${out.join('\n')}\n`;
}

/** One plain line per finished cell (CI logs, pipes), and a closing block. */
export class LineReporter implements Reporter {
  constructor(private readonly out: (s: string) => void = (s) => process.stdout.write(s)) {}

  onBegin(info: RunBeginInfo): void {
    this.out(formatBegin(info));
  }

  onCellEnd(c: CellRecord): void {
    this.out(`${formatCellLine(c)}\n`);
  }

  onEnd(s: Summary, runDir: string): void {
    this.out(formatEnd(s, runDir));
  }
}
