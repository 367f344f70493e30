// git for the bisection driver: refs, a private worktree, and `git bisect` with its answers parsed.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { hashParts, tryLock } from '../../vm/kernel/build-cache.ts';
import { stopBuildSteps } from '../../vm/kernel/build-run.ts';
import { InfraError, tail, UsageError } from '../errors.ts';

// git's messages are parsed below: keep them in English.
const ENV = { LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0' };

export interface GitResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function git(cwd: string, args: readonly string[]): Promise<GitResult> {
  const r = await execa('git', ['-C', cwd, ...args], { reject: false, env: ENV, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export async function gitOk(cwd: string, args: readonly string[]): Promise<string> {
  const r = await git(cwd, args);
  if (r.exitCode !== 0) throw new InfraError(`git ${args.join(' ')} (in ${cwd}) exited ${r.exitCode}: ${tail(r.stderr || r.stdout, 5)}`);
  return r.stdout.trim();
}

export async function toplevel(tree: string): Promise<string> {
  const st = await fs.stat(tree).catch(() => null);
  if (!st?.isDirectory()) throw new UsageError(`--tree ${tree}: not a directory`);
  const r = await git(tree, ['rev-parse', '--show-toplevel']);
  if (r.exitCode !== 0) throw new UsageError(`--tree ${tree}: not a git repository (${tail(r.stderr, 1)})`);
  return r.stdout.trim();
}

export async function resolveCommit(top: string, flag: string, ref: string): Promise<string> {
  const r = await git(top, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  const commit = r.stdout.trim();
  if (r.exitCode !== 0 || !/^[0-9a-f]{40,64}$/.test(commit)) throw new UsageError(`${flag} ${ref}: names no commit in ${top}`);
  return commit;
}

export async function isAncestor(top: string, older: string, newer: string): Promise<boolean> {
  return (await git(top, ['merge-base', '--is-ancestor', older, newer])).exitCode === 0;
}

export async function subject(cwd: string, commit: string): Promise<string> {
  return gitOk(cwd, ['log', '-1', '--format=%s', commit]);
}

export interface Worktree {
  dir: string;
  /**
   * Stops any build still running in this process and waits for it to exit, then removes the worktree (and
   * its bisect state) and releases its lock, whatever failed before; rejects with an InfraError naming what
   * could not be cleaned up. A second call waits for the first.
   */
  remove(): Promise<void>;
}

/**
 * A detached worktree of `top` at `commit`, at a path fixed per repository: kernel builds of it land in the
 * same out-of-tree build directory every time, so each step rebuilds only what the checkout changed.
 * One bisection per repository at a time (a pid lock says who holds it).
 */
export async function addWorktree(top: string, root: string, commit: string): Promise<Worktree> {
  const dir = path.join(root, `wt-${hashParts([top])}`);
  const lock = `${dir}.lock`;
  await fs.mkdir(root, { recursive: true });
  const holder = await tryLock(lock);
  if (holder !== undefined) throw new UsageError(`another bisection of ${top} is running (pid ${holder}, worktree ${dir})`);
  // Every caller (the normal end, a signal handler) waits for the one removal in progress.
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> =>
    (removing ??= (async () => {
      const failed: string[] = [];
      try {
        // The build directory lives in the worktree: make must have exited before it goes.
        await stopBuildSteps().catch((e: unknown) => failed.push(`stopping the build: ${(e as Error).message}`));
        const r = await git(top, ['worktree', 'remove', '--force', dir]);
        await fs.rm(dir, { recursive: true, force: true }).catch((e: unknown) => failed.push(`rm -r ${dir}: ${(e as Error).message}`));
        if (r.exitCode !== 0 && (await fs.stat(dir).then(() => true, () => false))) failed.push(`git worktree remove --force ${dir}: ${tail(r.stderr, 2)}`);
        const p = await git(top, ['worktree', 'prune']);
        if (p.exitCode !== 0) failed.push(`git -C ${top} worktree prune exited ${p.exitCode}: ${tail(p.stderr, 2)}`);
      } finally {
        await fs.rm(lock, { force: true }).catch((e: unknown) => failed.push(`rm ${lock}: ${(e as Error).message}`));
      }
      if (failed.length > 0) throw new InfraError(`cleaning up the bisection worktree ${dir} failed: ${failed.join('; ')}`);
    })());
  try {
    // Left over by a run that was killed: start over.
    await git(top, ['worktree', 'remove', '--force', dir]);
    await fs.rm(dir, { recursive: true, force: true });
    await git(top, ['worktree', 'prune']);
    await gitOk(top, ['worktree', 'add', '--detach', dir, commit]);
  } catch (e) {
    await remove().catch(() => undefined);
    throw e;
  }
  return { dir, remove };
}

export async function checkout(wt: string, commit: string): Promise<void> {
  await gitOk(wt, ['checkout', '-q', '-f', '--detach', commit]);
}

export async function head(wt: string): Promise<string> {
  return gitOk(wt, ['rev-parse', 'HEAD']);
}

/** Where `git bisect` stands after start/good/bad/skip. */
export type BisectState =
  | { kind: 'testing'; commit: string }
  | { kind: 'found'; commit: string }
  /** Only skipped commits are left: the first bad commit is one of `candidates`. */
  | { kind: 'only-skipped'; candidates: string[] };

export function parseBisectOutput(out: string): BisectState | undefined {
  const found = /^([0-9a-f]{40,64}) is the first bad commit$/m.exec(out);
  if (found) return { kind: 'found', commit: found[1]! };
  if (/There are only 'skip'ped commits left to test/.test(out)) {
    const after = out.slice(out.indexOf('could be any of:'));
    return { kind: 'only-skipped', candidates: [...after.matchAll(/^([0-9a-f]{40,64})$/gm)].map((m) => m[1]!) };
  }
  return undefined;
}

export async function bisect(wt: string, args: readonly string[]): Promise<BisectState> {
  const r = await git(wt, ['bisect', ...args]);
  const parsed = parseBisectOutput(`${r.stdout}\n${r.stderr}`);
  if (parsed) return parsed;
  if (r.exitCode !== 0) throw new InfraError(`git bisect ${args.join(' ')} (in ${wt}) exited ${r.exitCode}: ${tail(r.stderr || r.stdout, 5)}`);
  return { kind: 'testing', commit: await head(wt) };
}
