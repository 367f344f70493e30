import type { CellRecord, Summary } from '../results.ts';
import { formatBegin, formatCellLine, formatEnd } from './line.ts';
import type { ExecutionEnd, ExecutionInfo, Reporter, RunBeginInfo } from './reporter.ts';

interface Running extends ExecutionInfo {
  startedAt: number;
}

export interface LiveState {
  running: Running[];
  doneMs: number[];
  /** Executions planned, plus retries as they are scheduled. */
  total: number;
  cellsDone: number;
  cells: number;
  jobs: number;
  startedAt: number;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Time left: the executions not started and the rest of the running ones, at the mean execution time so far, spread over the jobs. */
export function estimateRemainingMs(st: LiveState, now: number): number | undefined {
  if (st.doneMs.length === 0) return undefined;
  const mean = st.doneMs.reduce((a, b) => a + b, 0) / st.doneMs.length;
  const notStarted = Math.max(0, st.total - st.doneMs.length - st.running.length);
  const work = notStarted * mean + st.running.reduce((t, r) => t + Math.max(0, mean - (now - r.startedAt)), 0);
  return work / Math.max(1, Math.min(st.jobs, notStarted + st.running.length));
}

/** The live block: one line per running execution, then the counter. */
export function renderLive(st: LiveState, now: number, width: number): string[] {
  const fit = (s: string) => (s.length > width - 1 ? `${s.slice(0, Math.max(0, width - 2))}…` : s);
  const lines = st.running.map((r) => {
    const rep = r.repeats > 1 ? ` rep ${r.repeat}/${r.repeats}` : '';
    const retry = r.attempt > 1 ? ` retry ${r.attempt - 1}` : '';
    return fit(`  running ${formatDuration(now - r.startedAt).padStart(6)}  ${r.id}${rep}${retry}`);
  });
  const left = estimateRemainingMs(st, now);
  lines.push(fit(`[${st.cellsDone}/${st.cells} cells, ${st.doneMs.length}/${st.total} executions] ${formatDuration(now - st.startedAt)} elapsed, ${left === undefined ? 'estimating time left' : `~${formatDuration(left)} left`}`));
  return lines;
}

/**
 * On a terminal: finished cells scroll by as plain lines, and below them a block redrawn every second shows
 * each running execution with its elapsed time and a counter with an estimate of the time left.
 */
export class LiveReporter implements Reporter {
  private st: LiveState = { running: [], doneMs: [], total: 0, cellsDone: 0, cells: 0, jobs: 1, startedAt: Date.now() };
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: (s: string) => void = (s) => process.stdout.write(s),
    // A pseudo-terminal without a size (script, some CI runners) reports 0 columns.
    private readonly width: () => number = () => (process.stdout.columns > 0 ? process.stdout.columns : 100),
    private readonly now: () => number = Date.now,
  ) {}

  onBegin(info: RunBeginInfo): void {
    this.st = { running: [], doneMs: [], total: info.executions, cellsDone: 0, cells: info.cells, jobs: info.jobs, startedAt: this.now() };
    this.out(formatBegin(info));
    this.timer = setInterval(() => this.redraw(), 1000);
    this.timer.unref();
    this.redraw();
  }

  onExecutionBegin(e: ExecutionInfo): void {
    if (e.attempt > 1) this.st.total += 1;
    this.st.running.push({ ...e, startedAt: this.now() });
    this.redraw();
  }

  onExecutionEnd(e: ExecutionEnd): void {
    this.st.running = this.st.running.filter((r) => !(r.id === e.id && r.repeat === e.repeat && r.attempt === e.attempt));
    this.st.doneMs.push(e.durationMs);
    this.redraw();
  }

  onCellEnd(c: CellRecord): void {
    this.st.cellsDone += 1;
    this.redraw(`${formatCellLine(c)}\n`);
  }

  onEnd(s: Summary, runDir: string): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.erase();
    this.out(formatEnd(s, runDir));
  }

  private erase(): void {
    if (this.drawn > 0) this.out(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  /** Clears the block, prints `above` for good, and draws the block again. */
  private redraw(above = ''): void {
    const lines = renderLive(this.st, this.now(), this.width());
    this.erase();
    this.out(`${above}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}
