import type { CellRecord, Summary } from '../results.ts';
import type { Reporter } from './reporter.ts';

const LABEL: Record<string, string> = { pass: 'PASS ', fail: 'FAIL ', crash: 'CRASH', hang: 'HANG ', error: 'ERROR', skip: 'SKIP ' };

export function formatCellLine(c: CellRecord): string {
  const secs = (c.durationMs / 1000).toFixed(1).padStart(6);
  return `${LABEL[c.verdict] ?? c.verdict} ${secs}s  ${c.id}${c.verdict === 'pass' ? '' : `  -- ${c.reason}`}`;
}

/** One plain line per finished cell (works on TTYs and in CI logs alike), and a closing count. */
export class LineReporter implements Reporter {
  constructor(private readonly out: (s: string) => void = (s) => process.stdout.write(s)) {}

  onBegin(info: { runDir: string; cells: number; kernels: string[] }): void {
    this.out(`integrity-harness: ${info.cells} cell(s) on ${info.kernels.join(', ') || 'no kernel'} -> ${info.runDir}\n`);
  }

  onCellEnd(c: CellRecord): void {
    this.out(`${formatCellLine(c)}\n`);
  }

  onEnd(s: Summary, runDir: string): void {
    const parts = Object.entries(s.counts).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`);
    this.out(`\n${parts.join(', ') || 'no cells'} (accelerator: ${s.accelerator?.accel ?? 'n/a'}); results: ${runDir}/summary.json\n`);
  }
}
