/**
 * Bisection cleanup, with real processes and real git: the worktree goes only after the build that writes
 * into it has exited, a cleanup that fails says what failed and still releases the lock, and a step stopped
 * by a signal leaves its run `interrupted`, never `running`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { describe, expect, it, vi } from 'vitest';
import { BuildLog, liveBuildSteps, runStep } from '../../vm/kernel/build-run.ts';
import { parseMatrixArgs } from '../config.ts';
import type { Summary } from '../results.ts';
import { addWorktree } from './git.ts';

// The step's matrix run waits until it is stopped, as a long scenario would.
vi.mock('../run/matrix.ts', () => ({
  runMatrix: vi.fn(async (_cfg: unknown, _plan: unknown, _results: unknown, _rep: unknown, _log: unknown, stop?: AbortSignal) => {
    while (stop?.aborted !== true) await sleep(20);
  }),
}));

const { realBisectDeps } = await import('./deps.ts');

async function repo(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ih-cleanup-repo-'));
  const git = (...a: string[]) => execa('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a]);
  await git('init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'Makefile'), 'all:\n');
  await git('add', 'Makefile');
  await git('commit', '-q', '-m', 'one');
  return dir;
}

describe('bisection cleanup', { timeout: 60_000 }, () => {
  it('removes the worktree only after the build running in it has exited', async () => {
    const top = await repo();
    const root = mkdtempSync(join(tmpdir(), 'ih-cleanup-wt-'));
    const head = String((await execa('git', ['-C', top, 'rev-parse', 'HEAD'])).stdout).trim();
    const wt = await addWorktree(top, root, head);
    const log = new BuildLog(join(root, 'build.log'));
    // A "make" that keeps writing into the tree until it is stopped, and once more as it stops (as make
    // deletes half-written targets): if the tree were removed first, that write would recreate it.
    const script = `trap 'echo stopping >> ${wt.dir}/out/last; exit 143' TERM; mkdir -p ${wt.dir}/out; while :; do echo x >> ${wt.dir}/out/obj; sleep 0.05; done`;
    const build = runStep(log, ['sh', '-c', script], { cwd: wt.dir });
    while (!existsSync(join(wt.dir, 'out', 'obj'))) await sleep(20);
    expect(liveBuildSteps()).toBe(1);
    await wt.remove();
    expect(liveBuildSteps()).toBe(0);
    expect((await build).exitCode).toBe(143);
    await sleep(200);
    expect(existsSync(wt.dir)).toBe(false);
    expect(existsSync(`${wt.dir}.lock`)).toBe(false);
    await log.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(top, { recursive: true, force: true });
  });

  it('reports a cleanup that failed, naming what, and still releases the lock', async () => {
    const top = await repo();
    const root = mkdtempSync(join(tmpdir(), 'ih-cleanup-wt-'));
    const head = String((await execa('git', ['-C', top, 'rev-parse', 'HEAD'])).stdout).trim();
    const wt = await addWorktree(top, root, head);
    // the repository vanished under the bisection: git can no longer prune its worktree list
    rmSync(join(top, '.git'), { recursive: true, force: true });
    const e = await wt.remove().then(() => undefined, (x: unknown) => x as Error);
    expect(e?.message).toMatch(new RegExp(`^cleaning up the bisection worktree ${wt.dir} failed: git -C ${top} worktree prune exited`));
    expect(existsSync(`${wt.dir}.lock`)).toBe(false);
    expect(existsSync(wt.dir)).toBe(false);
    rmSync(root, { recursive: true, force: true });
    rmSync(top, { recursive: true, force: true });
  });

  it("a step stopped by a signal leaves its run's summary interrupted with the exit code, not running", async () => {
    const results = mkdtempSync(join(tmpdir(), 'ih-cleanup-runs-'));
    let dir: string | undefined;
    const deps = realBisectDeps({ log: () => undefined, command: ['bisect-run'], onRun: (d) => (dir = d) });
    const cfg = parseMatrixArgs(['--kernel', 'tree:/nonexistent', '--scenario', 'integrity/001*', '--results', results]);
    const running = deps.run(cfg).then(() => 'returned', (err: Error) => err.message);
    while (dir === undefined) await sleep(20);
    expect((JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary).status).toBe('running');
    await deps.interrupt(255);
    expect(await running).toBe('bisect step: interrupted');
    const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
    expect(s).toMatchObject({ status: 'interrupted', exitCode: 255 });
    rmSync(results, { recursive: true, force: true });
  });
});
