// The bisection driver on real git (a tiny repository made here) with a fake builder and runner: each
// commit's STATE file says what its "kernel" does, so no kernel is built and no QEMU runs.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { KernelBuildError } from '../../vm/kernel/build-errors.ts';
import { parseBisectArgs, type BisectArgs } from './args.ts';
import { runBisect } from './drive.ts';
import type { BisectReport } from './record.ts';
import { bisectStep, type BisectDeps } from './step.ts';
import type { BisectCell } from '../verdict/bisect.ts';

const SIG = 'BUG: kernel NULL pointer dereference @ bio_integrity_process';

/** What a commit's kernel does: pass, crash with SIG, fail another way, hang without an oops, not build, crash every 2nd run. */
type State = 'ok' | 'crash' | 'other' | 'hang' | 'nobuild' | 'flaky' | 'skipped';

async function makeRepo(states: State[]): Promise<{ repo: string; commits: string[] }> {
  const repo = mkdtempSync(join(tmpdir(), 'ih-bisect-repo-'));
  const git = (...args: string[]) => execa('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);
  await git('init', '-q', '-b', 'main');
  const commits: string[] = [];
  for (const [i, state] of states.entries()) {
    writeFileSync(join(repo, 'STATE'), `${state} ${i}\n`);
    await git('add', 'STATE');
    await git('commit', '-q', '-m', `commit ${i}: ${state}`);
    commits.push(String((await git('rev-parse', 'HEAD')).stdout).trim());
  }
  return { repo, commits };
}

function fakeDeps() {
  const runsOf = new Map<string, number>();
  const builds: string[] = [];
  const stateAt = (tree: string) => readFileSync(join(tree, 'STATE'), 'utf8').split(' ')[0] as State;
  const deps: BisectDeps = {
    preflight: async () => undefined,
    build: async (spec) => {
      if (spec.kind !== 'tree') throw new Error(`expected a tree spec, got ${spec.kind}`);
      builds.push(spec.path);
      if (stateAt(spec.path) === 'nobuild') throw new KernelBuildError('make bzImage exited 2');
    },
    run: async (cfg) => {
      const spec = cfg.kernels[0]!;
      if (spec.kind !== 'tree') throw new Error('expected a tree spec');
      const head = String((await execa('git', ['-C', spec.path, 'rev-parse', 'HEAD'])).stdout).trim();
      const n = (runsOf.get(head) ?? 0) + 1;
      runsOf.set(head, n);
      const cell = (c: Partial<BisectCell>): BisectCell => ({ id: `6.1.0-g${head.slice(0, 12)}/crypt/001-gcm`, scenario: 'crypt/001-gcm', verdict: 'pass', booted: true, ...c });
      const state = stateAt(spec.path);
      if (state === 'crash' || (state === 'flaky' && n % 2 === 0)) return [cell({ verdict: 'crash', signature: SIG })];
      if (state === 'other') return [cell({ verdict: 'fail', signature: 'crypt/001-gcm: data-mismatch' })];
      if (state === 'hang') return [cell({ verdict: 'hang' })];
      // the sought scenario cannot run on this commit (its cipher is missing), another one passes
      if (state === 'skipped') return [cell({ verdict: 'skip', reason: 'kernel lacks gcm' }), cell({ id: `6.1.0-g${head.slice(0, 12)}/integrity/001`, scenario: 'integrity/001' })];
      return [cell({})];
    },
  };
  return { deps, runsOf, builds };
}

async function bisectOn(states: State[], extra: string[] = [], good = 0, bad = states.length - 1) {
  const { repo, commits } = await makeRepo(states);
  const scratch = mkdtempSync(join(tmpdir(), 'ih-bisect-drive-'));
  const args = parseBisectArgs(['--tree', repo, '--good', commits[good]!, '--bad', commits[bad]!, '--results', join(scratch, 'results'), '--scenario', 'crypt/001*', ...extra]);
  if (args === 'help') throw new Error('help');
  const fake = fakeDeps();
  const lines: string[] = [];
  const outcome = await runBisect(args as BisectArgs, {
    log: (l) => lines.push(l),
    worktreeRoot: join(scratch, 'worktrees'),
    async step(argv, cwd) {
      const d = await bisectStep(argv, cwd, fake.deps);
      if (d === 'help') throw new Error('help');
      return d;
    },
  });
  const report = outcome.record ? (JSON.parse(readFileSync(join(outcome.record.dir, 'bisect.json'), 'utf8')) as BisectReport) : undefined;
  const stateOf = (commit: string) => states[commits.indexOf(commit)];
  return { outcome, report, commits, repo, scratch, fake, lines, stateOf };
}

// Real git and several bisections per test: slow on a loaded machine.
describe('npm run bisect (driver)', { timeout: 180_000 }, () => {
  it('finds the first bad commit, reports its failing cell and signature, and leaves the repository as it was', async () => {
    const { outcome, report, commits, repo, fake } = await bisectOn(['ok', 'ok', 'ok', 'crash', 'crash', 'crash']);
    expect(outcome.code).toBe(0);
    expect(outcome.message).toContain(`first bad commit: ${commits[3]} commit 3: crash`);
    expect(report).toMatchObject({
      status: 'found',
      exitCode: 0,
      signatures: [SIG],
      firstBad: { commit: commits[3], subject: 'commit 3: crash', cells: [{ verdict: 'crash', signature: SIG }] },
    });
    // The ends are confirmed first, bad end first; every tested commit is logged with its verdict and time.
    expect(report!.steps.slice(0, 2).map((s) => [s.role, s.commit, s.verdict])).toEqual([['bad-end', commits[5], 'bad'], ['good-end', commits[0], 'good']]);
    for (const s of report!.steps) expect(s.wallMs).toBeGreaterThanOrEqual(0);
    const jsonl = readFileSync(join(outcome.record!.dir, 'steps.jsonl'), 'utf8').trim().split('\n');
    expect(jsonl).toHaveLength(report!.steps.length);
    // Every build was of the private worktree, never of the user's checkout; the worktree is gone now.
    expect(fake.builds.every((p) => p !== repo)).toBe(true);
    expect(existsSync(fake.builds[0]!)).toBe(false);
    expect(String((await execa('git', ['-C', repo, 'worktree', 'list', '--porcelain'])).stdout).match(/^worktree /gm)).toHaveLength(1);
    expect(String((await execa('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout).trim()).toBe(commits[5]);
    expect(String((await execa('git', ['-C', repo, 'status', '--porcelain'])).stdout)).toBe('');
  });

  it('derives the signature of a failure without an oops from the scenario and verdict, not the kernel label', async () => {
    const { outcome, report, commits } = await bisectOn(['ok', 'ok', 'hang', 'hang']);
    expect(outcome.code).toBe(0);
    expect(report).toMatchObject({ signatures: ['crypt/001-gcm: hang'], firstBad: { commit: commits[2] } });
  });

  it('skips a commit that fails differently or does not build instead of blaming it', async () => {
    const { outcome, report, commits, stateOf } = await bisectOn(['ok', 'other', 'nobuild', 'other', 'ok', 'crash', 'crash']);
    expect(outcome.code).toBe(0);
    expect(report!.firstBad!.commit).toBe(commits[5]);
    const odd = report!.steps.filter((s) => stateOf(s.commit) === 'other' || stateOf(s.commit) === 'nobuild');
    expect(odd.length).toBeGreaterThan(0);
    for (const s of odd) expect(s).toMatchObject({ verdict: 'skip', code: 125 });
  });

  it('never calls good a commit where the scenario that failed on the bad end skipped', async () => {
    const { outcome, report, commits } = await bisectOn(['ok', 'skipped', 'crash']);
    expect(outcome.code).toBe(125);
    const step = report!.steps.find((s) => s.commit === commits[1])!;
    expect(step).toMatchObject({ verdict: 'skip', code: 125, reason: expect.stringContaining('a sought scenario skipped: 6.1.0-g') });
    expect(step.reason).toContain('crypt/001-gcm skip: kernel lacks gcm');
    expect(report!.candidates!.map((c) => c.commit).sort()).toEqual([commits[1], commits[2]].sort());
  });

  it('exits 125 with the candidates when only untestable commits are left', async () => {
    const { outcome, report, commits } = await bisectOn(['ok', 'other', 'crash']);
    expect(outcome.code).toBe(125);
    expect(report).toMatchObject({ status: 'undecided', exitCode: 125 });
    expect(report!.candidates!.map((c) => c.commit).sort()).toEqual([commits[1], commits[2]].sort());
    expect(outcome.message).toContain('first bad commit is one of');
  });

  it('stops with 125 before bisecting when the ends are not what they claim', async () => {
    const goodIsBad = await bisectOn(['crash', 'ok', 'crash']);
    expect(goodIsBad.outcome).toMatchObject({ code: 125, message: expect.stringContaining('fails the same way') });
    expect(goodIsBad.report).toMatchObject({ status: 'ends-not-confirmed' });
    expect(goodIsBad.report!.steps).toHaveLength(2);

    const badIsGood = await bisectOn(['ok', 'crash', 'ok']);
    expect(badIsGood.outcome).toMatchObject({ code: 125, message: expect.stringContaining('is not bad') });
    expect(badIsGood.report!.steps).toHaveLength(1);

    const goodFailsDifferently = await bisectOn(['other', 'crash']);
    expect(goodFailsDifferently.outcome).toMatchObject({ code: 125, message: expect.stringContaining('cannot be judged good') });

    const badDoesNotBuild = await bisectOn(['ok', 'nobuild']);
    expect(badDoesNotBuild.outcome).toMatchObject({ code: 125, message: expect.stringContaining('did not build') });
  });

  it('with --signature, a bad end that fails differently is not bad', async () => {
    const { outcome } = await bisectOn(['ok', 'other'], ['--signature', SIG]);
    expect(outcome).toMatchObject({ code: 125, message: expect.stringContaining('is not bad') });
  });

  it('exits 255 on refs that name no commit or are the wrong way round, without making a worktree', async () => {
    const { repo, commits } = await makeRepo(['ok', 'crash']);
    const scratch = mkdtempSync(join(tmpdir(), 'ih-bisect-drive-'));
    const fake = fakeDeps();
    const run = (good: string, bad: string) =>
      runBisect(parseBisectArgs(['--tree', repo, '--good', good, '--bad', bad, '--results', scratch]) as BisectArgs, {
        log: () => undefined,
        worktreeRoot: join(scratch, 'wt'),
        step: async (argv, cwd) => bisectStep(argv, cwd, fake.deps) as never,
      });
    expect(await run('no-such-ref', commits[1]!)).toMatchObject({ code: 255, message: expect.stringContaining('--good no-such-ref: names no commit') });
    expect(await run(commits[1]!, commits[0]!)).toMatchObject({ code: 255, message: expect.stringContaining('not an ancestor') });
    expect(fake.builds).toHaveLength(0);
    expect(existsSync(join(scratch, 'wt'))).toBe(false);
  });

  it('--repeat: a commit is bad when any run shows the signature, so an intermittent bug is not bisected past', async () => {
    const states: State[] = ['ok', 'ok', 'flaky', 'flaky', 'crash'];
    const once = await bisectOn(states);
    expect(once.report!.firstBad!.commit).toBe(once.commits[4]);

    const repeated = await bisectOn(states, ['--repeat', '3']);
    expect(repeated.report!.firstBad!.commit).toBe(repeated.commits[2]);
    // A good commit ran all 3 times; a flaky one stopped at its first bad run (the 2nd).
    const goodEnd = repeated.report!.steps.find((s) => s.role === 'good-end')!;
    expect(goodEnd.runs.map((r) => r.code)).toEqual([0, 0, 0]);
    for (const s of repeated.report!.steps.filter((x) => repeated.stateOf(x.commit) === 'flaky')) {
      expect(s.runs.map((r) => r.code)).toEqual([0, 1]);
    }
  });
});
