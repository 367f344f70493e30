/**
 * Re-judges a stored run with the current model: every execution that has observations is replayed
 * (replay.ts) through the same cell code and verdict (judgeCell, harness/verdict/execution.ts), and the
 * run's verdicts are composed again (repeats, the gate's comparison, a baseline) on a copy of its summary.
 * Nothing in the run is changed. A crash, a hang or an infrastructure error is decided by the console, the
 * clock or the host, not by the model, and a kill step's second QEMU cannot be played back: those keep
 * their verdict. A crash step replays from what it recorded at each crash point; the raw-disk audit at each
 * point stays the run's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyCounts, recordBaseline, recordGate, type CellRecord, type Summary } from '../results.ts';
import { runStack } from '../run/run-cell.ts';
import { judgeCell, SECOND_CONSOLE, type CellSpec } from '../run/session/cell.ts';
import { createImage, planTransfers } from '../run/session/disks.ts';
import type { CellResult } from '../run/session/observations.ts';
import type { Scenario } from '../scenario/load.ts';
import { classifyAgainst } from '../verdict/baseline.ts';
import { exitCodeForSummary } from '../verdict/exit-code.ts';
import { classifyError, type StepsOutcome } from '../verdict/failures.ts';
import { judgeGate } from '../verdict/gate.ts';
import { combineRuns } from '../verdict/repeat.ts';
import type { Disagreement, Verdict } from '../verdict/types.ts';
import { describe, loadObservations, NotReplayable, ObservationCursor, ReplayGuest, ReplayImages, ReplaySession } from './replay.ts';

export interface Judgement {
  verdict: Verdict;
  reason: string;
  signature?: string;
  disagreements: Disagreement[];
}

export interface ExecutionRejudgement {
  /** the execution's directory, relative to the run */
  dir: string;
  before: Judgement;
  /** the current model's judgement; undefined when the execution could not be replayed (`note` says why) */
  after?: Judgement;
  /** why it was not replayed, or what of it was not (the audit without kept images) */
  note?: string;
}

/** Verdicts the model does not decide: the console (crash), the clock (hang) or the host (error) did. */
const NOT_THE_MODELS: Verdict[] = ['crash', 'hang', 'error'];

export async function rejudgeExecution(runDir: string, dir: string): Promise<ExecutionRejudgement> {
  const execDir = join(runDir, dir);
  const recorded = JSON.parse(await readFile(join(execDir, 'result.json'), 'utf8')) as CellResult;
  const before: Judgement = {
    verdict: recorded.verdict, reason: recorded.reason, disagreements: recorded.disagreements ?? [],
    ...(recorded.signature !== undefined ? { signature: recorded.signature } : {}),
  };
  if (NOT_THE_MODELS.includes(recorded.verdict)) return { dir, before, note: `a ${recorded.verdict} is not the model's to judge: kept` };
  let stored;
  try {
    stored = await loadObservations(join(execDir, 'observations.jsonl'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the run recorded no observations.jsonl' : (e as Error).message;
    return { dir, before, note: `not replayed: ${why}` };
  }
  const scenario = stored.header.scenario as Scenario;
  if (scenario.steps.some((s) => typeof s !== 'string' && 'kill' in s)) {
    // the host's SIGKILL lands at a moment of the guest's and a second QEMU boots: neither can be answered from records
    return { dir, before, note: 'not replayed: a kill step kills QEMU and boots a second guest, which a replay cannot play back' };
  }
  const scratch = await mkdtemp(join(tmpdir(), 'ih-rejudge-'));
  try {
    return await replay(runDir, dir, before, stored, scenario, scratch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function replay(
  runDir: string, dir: string, before: Judgement, stored: Awaited<ReturnType<typeof loadObservations>>, scenario: Scenario, scratch: string,
): Promise<ExecutionRejudgement> {
  const execDir = join(runDir, dir);
  const roles = [...scenario.disks.map((d) => d.name), 'out'];
  const hostDisks = new Map(roles.map((r) => [r, join(execDir, 'disks', `${r}.img`)]));
  // the payload disk holds the host's own plan, not an observation: the cell writes it afresh, into scratch
  const plan = planTransfers(scenario);
  hostDisks.set('payload', await createImage(scratch, 'payload', plan.payloadSize));
  const cursor = new ObservationCursor(stored.records);
  const images = new ReplayImages(cursor, hostDisks, join(execDir, 'disks'));
  const disks = stored.header.disks !== undefined ? new Map(Object.entries(stored.header.disks)) : undefined;
  const session = new ReplaySession(new ReplayGuest(cursor), images, scenario.stepTimeout * 1000, join(scratch, 'steps.jsonl'), disks);
  const spec = { id: stored.header.cell, dir: scratch, scenario, ...(stored.header.phase !== undefined ? { phase: stored.header.phase } : {}) } as CellSpec;
  let outcome: StepsOutcome;
  let note: string | undefined;
  try {
    await runStack(spec, session, hostDisks, plan);
    const rest = cursor.rest();
    if (rest.length > 0 && before.verdict !== 'skip') throw new NotReplayable(`the current code stops where the run went on with ${describe(rest[0]!)}`);
  } catch (e) {
    await session.end().catch(() => undefined);
    if (!(e instanceof NotReplayable)) outcome = classifyError(e);
    else {
      // The audit of the raw images is the last thing a cell does: without the images, what it found stays.
      const auditStep = session.steps.at(-1)?.kind === 'teardown' && /raw-disk audit/.test(e.message) ? session.steps.at(-1)!.index : undefined;
      if (auditStep === undefined) return { dir, before, note: `not replayed: ${e.message}` };
      before.disagreements.filter((d) => d.step >= auditStep).forEach((d) => session.disagree(d));
      note = `the raw-disk audit's findings are the run's (the images were not kept: --keep-disks keeps them)`;
    }
  }
  // A crash point's image is gone once the next point is put on the disk: its audit after close stays the run's.
  if (stored.records.some((r) => r.t === 'crash-audit')) {
    const crashNote = 'the raw-disk audits after close at the crash points are the run\'s (a run keeps no image per crash point)';
    note = note === undefined ? crashNote : `${note}; ${crashNote}`;
  }
  const consoleText = await readFile(join(execDir, 'console.log'), 'utf8').catch(() => '') + await readFile(join(execDir, SECOND_CONSOLE), 'utf8').catch(() => '');
  const j = judgeCell(spec, session, outcome, consoleText, '');
  const after: Judgement = { verdict: j.verdict, reason: j.reason, disagreements: [...session.disagreements], ...(j.signature !== undefined ? { signature: j.signature } : {}) };
  return { dir, before, after, ...(note !== undefined ? { note } : {}) };
}

/** Did the judgement change: the verdict, or what the model disagrees with? */
export function changed(r: ExecutionRejudgement): boolean {
  if (r.after === undefined) return false;
  const key = (ds: Disagreement[]) => JSON.stringify(ds.map((d) => [d.step, d.kind, d.block ?? null, d.expected, d.found]));
  return r.after.verdict !== r.before.verdict || key(r.after.disagreements) !== key(r.before.disagreements);
}

export interface RunRejudgement {
  /** a copy of the run's summary with the current model's verdicts composed again */
  summary: Summary;
  cells: Array<{ id: string; before: Verdict; after: Verdict; executions: ExecutionRejudgement[] }>;
  exitCode: number;
}

export async function rejudgeRun(runDir: string): Promise<RunRejudgement> {
  const recorded = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8')) as Summary;
  const summary = structuredClone(recorded);
  const cells: RunRejudgement['cells'] = [];
  for (const c of summary.cells) {
    const before = c.verdict;
    const executions = await rejudgeCell(runDir, c);
    cells.push({ id: c.id, before, after: c.verdict, executions });
  }
  summary.counts = emptyCounts();
  for (const c of summary.cells) summary.counts[c.verdict] += 1;
  if (summary.gate !== undefined) recordGate(summary, judgeGate(summary, { base: summary.gate.base, candidate: summary.gate.candidate }, summary.gate.compat));
  // the baseline's verdicts are recorded per cell: the comparison needs no second run read
  if (summary.baseline !== undefined) recordBaseline(summary, classifyAgainst(summary.cells, summary.baseline, (c) => c.baseline?.verdict ?? null));
  return { summary, cells, exitCode: exitCodeForSummary(summary) };
}

/** Re-judges a cell's executions and folds them into its verdict again (in the copy), as the run did. */
async function rejudgeCell(runDir: string, c: CellRecord): Promise<ExecutionRejudgement[]> {
  if (c.dir === '') return [];
  if (c.runs === undefined || c.runs.length === 0) {
    const r = await rejudgeExecution(runDir, c.dir);
    if (r.after !== undefined) Object.assign(c, { verdict: r.after.verdict, reason: r.after.reason, disagreements: r.after.disagreements.length }, r.after.signature !== undefined ? { signature: r.after.signature } : {});
    return [r];
  }
  const out: ExecutionRejudgement[] = [];
  for (const run of c.runs) {
    if (run.dir === '') continue;
    const r = await rejudgeExecution(runDir, run.dir);
    if (r.after !== undefined) Object.assign(run, { verdict: r.after.verdict, reason: r.after.reason, disagreements: r.after.disagreements.length });
    out.push(r);
  }
  const combined = combineRuns(c.runs);
  Object.assign(c, { verdict: combined.verdict, reason: combined.reason, flaky: combined.flaky, dir: combined.from.dir });
  return out;
}
