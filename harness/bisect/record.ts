// results/<run-id>/ of `npm run bisect`: bisect.json (rewritten after every step, so an interrupted bisection
// still says how far it got) and steps.jsonl (one line per tested commit, appended).
import { appendFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newRunId } from '../results.ts';
import type { BisectExit } from '../verdict/bisect.ts';

export type StepRole = 'bad-end' | 'good-end' | 'step';
export type StepVerdict = 'good' | 'bad' | 'skip' | 'abort';

export interface FailedCell {
  id: string;
  verdict: string;
  signature: string;
}

export interface StepRun {
  code: BisectExit;
  reason: string;
  wallMs: number;
  /** The step's matrix run, relative to the bisection's directory. */
  results?: string;
}

export interface StepRecord {
  commit: string;
  subject: string;
  role: StepRole;
  verdict: StepVerdict;
  code: BisectExit;
  reason: string;
  wallMs: number;
  runs: StepRun[];
  /** The cells that made it bad, with their signatures. */
  failed?: FailedCell[];
}

export type BisectStatus = 'running' | 'found' | 'undecided' | 'ends-not-confirmed' | 'aborted' | 'interrupted';

export interface BisectReport {
  runId: string;
  startedAt: string;
  tree: string;
  good: { ref: string; commit: string };
  bad: { ref: string; commit: string };
  stepArgs: string[];
  repeat: number;
  /** The failures looked for: from --signature, or the bad end's. */
  signatures: string[];
  status: BisectStatus;
  message?: string;
  exitCode?: number;
  wallMs?: number;
  firstBad?: { commit: string; subject: string; signatures: string[]; cells: FailedCell[] };
  /** status undecided: the first bad commit is one of these (git could not test the others). */
  candidates?: Array<{ commit: string; subject: string }>;
  steps: StepRecord[];
}

export const verdictOf = (code: BisectExit): StepVerdict => (code === 0 ? 'good' : code === 1 ? 'bad' : code === 125 ? 'skip' : 'abort');

export class BisectRecord {
  private constructor(
    readonly dir: string,
    readonly report: BisectReport,
    private readonly started: number,
  ) {}

  static async create(resultsRoot: string, init: Omit<BisectReport, 'runId' | 'startedAt' | 'status' | 'steps' | 'signatures'>): Promise<BisectRecord> {
    const runId = `bisect-${newRunId()}`;
    const dir = join(resultsRoot, runId);
    await mkdir(join(dir, 'steps'), { recursive: true });
    const latest = join(resultsRoot, 'latest-bisect');
    await rm(latest, { force: true });
    await symlink(runId, latest).catch(() => undefined);
    const rec = new BisectRecord(dir, { runId, startedAt: new Date().toISOString(), ...init, signatures: [], status: 'running', steps: [] }, Date.now());
    await rec.save();
    return rec;
  }

  get stepsDir(): string {
    return join(this.dir, 'steps');
  }

  async step(step: StepRecord): Promise<void> {
    this.report.steps.push(step);
    await appendFile(join(this.dir, 'steps.jsonl'), `${JSON.stringify(step)}\n`);
    await this.save();
  }

  /** The first finish wins: an interrupted bisection stays interrupted whatever its last step says after. */
  async finish(fields: Partial<BisectReport> & { status: BisectStatus; exitCode: number }): Promise<void> {
    if (this.report.status !== 'running') return;
    Object.assign(this.report, fields, { wallMs: Date.now() - this.started });
    await this.save();
  }

  async save(): Promise<void> {
    const file = join(this.dir, 'bisect.json');
    await writeFile(`${file}.tmp`, `${JSON.stringify(this.report, null, 2)}\n`);
    await rename(`${file}.tmp`, file);
  }
}
