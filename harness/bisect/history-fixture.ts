// A small git history on Debian's linux-source-6.1 for the bisection proof: clean, an unrelated change,
// the commit that reintroduces the 4.13 bio-integrity bug class (the seed patch), another unrelated change.
// Made once into the cache; fixed authors and dates make the commit hashes the same on every machine, so
// kernels built from them are cache hits on a second run.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createDirAtomically, hashParts } from '../../vm/kernel/build-cache.ts';
import { isBuildOrGitEntry, resolveSource } from '../../vm/kernel/build-source.ts';

export const SEED_PATCH = fileURLToPath(new URL('../../scenarios/regressions/4.13-bio-integrity-endio.patch', import.meta.url));

export interface SeedHistory {
  repo: string;
  /** Oldest first: clean, unrelated, seed (the first bad commit), unrelated. */
  commits: string[];
}

const IDENTITY = {
  GIT_AUTHOR_NAME: 'integrity-harness',
  GIT_AUTHOR_EMAIL: 'bisect@integrity-harness',
  GIT_COMMITTER_NAME: 'integrity-harness',
  GIT_COMMITTER_EMAIL: 'bisect@integrity-harness',
};

async function git(repo: string, args: string[], date?: string): Promise<string> {
  const env = { ...process.env, ...IDENTITY, ...(date !== undefined ? { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : {}) };
  // Loose objects of a 1.2 GB tree: fast compression matters more than size here.
  const r = await execa('git', ['-c', 'core.looseCompression=1', '-c', 'gc.auto=0', ...args], { cwd: repo, env });
  return String(r.stdout).trim();
}

// The tree is hard-linked from the cache's unpacked source: replace a file, never write through the link.
async function appendLine(repo: string, file: string, line: string): Promise<void> {
  const abs = path.join(repo, file);
  const text = await fs.readFile(abs, 'utf8');
  await fs.writeFile(`${abs}.new`, `${text}${line}\n`);
  await fs.rename(`${abs}.new`, abs);
}

async function commitAll(repo: string, message: string, date: string): Promise<void> {
  // Debian's tree carries the kernel's .gitignore (".*", "*.a", ...): without -f tracked sources would be left out.
  await git(repo, ['add', '-f', '-A', '.']);
  await git(repo, ['commit', '-q', '--no-verify', '-m', message], date);
}

export async function seedHistory(opts: { cacheDir: string; log?: (line: string) => void }): Promise<SeedHistory> {
  const log = opts.log ?? (() => undefined);
  const ctx = { cacheDir: opts.cacheDir, warn: log, log };
  const base = await resolveSource({ kind: 'debian-src', version: '6.1' }, ctx);
  const patchText = await fs.readFile(SEED_PATCH, 'utf8');
  const repo = path.join(opts.cacheDir, 'bisect-history', `linux-6.1-${hashParts(['seed-history-v1', base.key ?? base.dir, patchText])}`);
  await createDirAtomically(repo, async (tmp) => {
    log(`making the seed history in ${repo} (once)`);
    await fs.mkdir(tmp, { recursive: true });
    const entries = (await fs.readdir(base.dir)).filter((name) => !isBuildOrGitEntry(name));
    await execa('cp', ['-al', ...entries.map((e) => path.join(base.dir, e)), `${tmp}/`]);
    await git(tmp, ['init', '-q', '-b', 'main']);
    await commitAll(tmp, 'linux-source-6.1 as Debian ships it', '2024-01-01T00:00:00Z');
    await appendLine(tmp, 'drivers/md/dm-flakey.c', '/* integrity-harness: an unrelated change that is compiled in */');
    await commitAll(tmp, 'dm flakey: unrelated comment', '2024-01-02T00:00:00Z');
    await execa('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', SEED_PATCH], { cwd: tmp });
    await commitAll(tmp, 'bio-integrity: verify every read payload on kintegrityd (reintroduces the 4.13 bug class)', '2024-01-03T00:00:00Z');
    await appendLine(tmp, 'Documentation/admin-guide/device-mapper/dm-flakey.rst', '\n.. integrity-harness: an unrelated documentation change');
    await commitAll(tmp, 'docs: dm-flakey: unrelated note', '2024-01-04T00:00:00Z');
  });
  const commits = (await git(repo, ['rev-list', '--reverse', 'HEAD'])).split('\n');
  if (commits.length !== 4) throw new Error(`${repo}: expected 4 commits, found ${commits.length} (remove it to make it again)`);
  return { repo, commits };
}
