// npm run bisect: a private worktree, the two ends confirmed, the bad end's failure signatures, then
// `git bisect good/bad/skip` driven with bisect-run's step code at every commit git checks out.
import { relative } from 'node:path';
import { UsageError } from '../errors.ts';
import type { BisectArgs } from './args.ts';
import { addWorktree, bisect, checkout, isAncestor, resolveCommit, subject, toplevel, type BisectState, type Worktree } from './git.ts';
import { BisectRecord, verdictOf, type FailedCell, type StepRecord, type StepRole } from './record.ts';
import { repeatStep } from './repeat.ts';
import { EXIT_ABORT, EXIT_BAD, EXIT_GOOD, EXIT_SKIP } from '../verdict/exit-code.ts';
import { deriveSignatures, failureSignature, type BisectCell, type BisectDecision } from '../verdict/bisect.ts';

export interface DriverDeps {
  /** One step (bisect-run's bisectStep with a builder and runner) on the tree at `cwd`. */
  step(argv: string[], cwd: string): Promise<BisectDecision & { resultsDir?: string }>;
  log(line: string): void;
  /** Where the worktree is made (it is removed at the end). */
  worktreeRoot: string;
  /** For a signal handler: what to clean up and to mark interrupted. */
  onStart?(wt: Worktree, record: BisectRecord): void;
}

export interface BisectOutcome {
  code: typeof EXIT_GOOD | typeof EXIT_SKIP | typeof EXIT_ABORT;
  message: string;
  record?: BisectRecord;
}

const short = (commit: string) => commit.slice(0, 12);

export async function runBisect(args: BisectArgs, deps: DriverDeps): Promise<BisectOutcome> {
  let top: string;
  let good: string;
  let bad: string;
  try {
    top = await toplevel(args.tree);
    bad = await resolveCommit(top, '--bad', args.bad);
    good = await resolveCommit(top, '--good', args.good);
    if (good === bad) throw new UsageError(`--good ${args.good} and --bad ${args.bad} are the same commit`);
    if (!(await isAncestor(top, good, bad))) throw new UsageError(`--good ${args.good} is not an ancestor of --bad ${args.bad}`);
  } catch (e) {
    if (e instanceof UsageError) return { code: EXIT_ABORT, message: e.message };
    throw e;
  }
  const wt = await addWorktree(top, deps.worktreeRoot, bad);
  try {
    const record = await BisectRecord.create(args.resultsRoot, {
      tree: top,
      good: { ref: args.good, commit: good },
      bad: { ref: args.bad, commit: bad },
      stepArgs: args.stepArgs,
      repeat: args.repeat,
    });
    deps.onStart?.(wt, record);
    deps.log(`bisect: worktree ${wt.dir}, results ${record.dir}`);
    const outcome = await drive(args, deps, wt, record, { good, bad });
    await record.finish({ status: outcome.status, message: outcome.message, exitCode: outcome.code });
    return { code: outcome.code, message: outcome.message, record };
  } finally {
    // Reported, not thrown over the bisection's outcome: the lock is released either way (git.ts).
    await wt.remove().catch((e: unknown) => deps.log(`bisect: ${(e as Error).message}`));
  }
}

interface Ends {
  good: string;
  bad: string;
}

interface Driven {
  code: BisectOutcome['code'];
  status: 'found' | 'undecided' | 'ends-not-confirmed' | 'aborted';
  message: string;
}

async function drive(args: BisectArgs, deps: DriverDeps, wt: Worktree, record: BisectRecord, ends: Ends): Promise<Driven> {
  const tested = new Map<string, StepRecord>();
  let badEndCells: BisectCell[] = [];
  const test = async (commit: string, role: StepRole, signatures: readonly string[], sought: readonly string[] = []): Promise<StepRecord> => {
    const { step, decision } = await testCommit(args, deps, wt, record, commit, role, signatures, sought);
    if (role === 'bad-end') badEndCells = decision.bad ?? [];
    tested.set(commit, step);
    await record.step(step);
    deps.log(`bisect: ${role} ${short(commit)} ${step.subject}: ${step.verdict} in ${(step.wallMs / 1000).toFixed(0)} s (${step.reason})`);
    return step;
  };
  const aborted = (step: StepRecord): Driven => ({ code: EXIT_ABORT, status: 'aborted', message: `${short(step.commit)}: ${step.reason}` });

  // The bad end first: its failures are what the bisection looks for.
  await checkout(wt.dir, ends.bad);
  const badEnd = await test(ends.bad, 'bad-end', args.signatures);
  if (badEnd.code === EXIT_ABORT) return aborted(badEnd);
  if (badEnd.code !== EXIT_BAD) {
    return { code: EXIT_SKIP, status: 'ends-not-confirmed', message: `--bad ${args.bad} (${short(ends.bad)}) is not bad: ${badEnd.reason}` };
  }
  const signatures = args.signatures.length > 0 ? args.signatures : deriveSignatures(badEndCells);
  record.report.signatures = signatures;
  // The scenarios that showed it: a step where one of them skips cannot be judged good.
  const sought = [...new Set(badEndCells.filter((c) => signatures.includes(failureSignature(c))).map((c) => c.scenario ?? c.id.slice(c.id.indexOf('/') + 1)))];
  deps.log(`bisect: looking for ${signatures.map((s) => `"${s}"`).join(' or ')}`);

  await checkout(wt.dir, ends.good);
  const goodEnd = await test(ends.good, 'good-end', signatures, sought);
  if (goodEnd.code === EXIT_ABORT) return aborted(goodEnd);
  if (goodEnd.code !== EXIT_GOOD) {
    const why = goodEnd.code === EXIT_BAD ? 'fails the same way' : 'cannot be judged good';
    return { code: EXIT_SKIP, status: 'ends-not-confirmed', message: `--good ${args.good} (${short(ends.good)}) ${why}: ${goodEnd.reason}` };
  }

  let state: BisectState = await bisect(wt.dir, ['start', ends.bad, ends.good]);
  while (state.kind === 'testing') {
    const step = await test(state.commit, 'step', signatures, sought);
    if (step.code === EXIT_ABORT) return aborted(step);
    state = await bisect(wt.dir, [verdictOf(step.code)]);
  }
  if (state.kind === 'only-skipped') {
    const candidates = await Promise.all(state.candidates.map(async (c) => ({ commit: c, subject: await subject(wt.dir, c) })));
    record.report.candidates = candidates;
    return {
      code: EXIT_SKIP,
      status: 'undecided',
      message: `only untestable commits are left; the first bad commit is one of:\n${candidates.map((c) => `  ${c.commit} ${c.subject}`).join('\n')}`,
    };
  }
  const step = tested.get(state.commit);
  const cells = step?.failed ?? [];
  record.report.firstBad = { commit: state.commit, subject: await subject(wt.dir, state.commit), signatures, cells };
  const lines = [
    `first bad commit: ${state.commit} ${record.report.firstBad.subject}`,
    ...cells.map((c) => `  ${c.id} ${c.verdict}: ${c.signature}`),
  ];
  return { code: EXIT_GOOD, status: 'found', message: lines.join('\n') };
}

async function testCommit(
  args: BisectArgs,
  deps: DriverDeps,
  wt: Worktree,
  record: BisectRecord,
  commit: string,
  role: StepRole,
  signatures: readonly string[],
  sought: readonly string[],
): Promise<{ step: StepRecord; decision: BisectDecision }> {
  const started = Date.now();
  const argv = [...args.stepArgs, '--results', record.stepsDir, ...signatures.flatMap((s) => ['--signature', s]), ...sought.flatMap((s) => ['--sought', s])];
  const runs: StepRecord['runs'] = [];
  const decision = await repeatStep(args.repeat, async (i) => {
    if (args.repeat > 1) deps.log(`bisect: ${role} ${short(commit)} run ${i + 1} of up to ${args.repeat}`);
    const t = Date.now();
    const d = await deps.step(argv, wt.dir);
    runs.push({
      code: d.code,
      reason: d.reason,
      wallMs: Date.now() - t,
      ...(d.resultsDir !== undefined ? { results: relative(record.dir, d.resultsDir) } : {}),
    });
    return d;
  });
  const failed: FailedCell[] | undefined = decision.bad?.map((c) => ({ id: c.id, verdict: c.verdict, signature: failureSignature(c) }));
  const step: StepRecord = {
    commit,
    subject: await subject(wt.dir, commit),
    role,
    verdict: verdictOf(decision.code),
    code: decision.code,
    reason: decision.reason,
    wallMs: Date.now() - started,
    runs,
    ...(failed !== undefined ? { failed } : {}),
  };
  return { step, decision };
}
