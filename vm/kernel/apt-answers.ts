/**
 * apt-cache's answers, kept on disk while apt's package lists stay the same. Debian's container images turn
 * off apt's binary cache (`Dir::Cache::pkgcache ""`, /etc/apt/apt.conf.d/docker-clean), so every apt-cache
 * call parses all package lists again: ~2 s each on this machine, two of them per run of a version alias.
 * An answer is only reused while every file in the lists directory has the size and mtime it had then
 * (`apt-get update` rewrites them), and only a successful one is kept.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, writeCacheFile } from '../cache.ts';
import { hashParts } from './build-cache.ts';

const APT_LISTS = '/var/lib/apt/lists';

export interface AptAnswer {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What the package lists are now: each file's name, size and mtime (empty when there are none). */
async function listsStamp(dir = APT_LISTS): Promise<string> {
  if (!existsSync(dir)) return '';
  const h = createHash('sha256');
  let files = 0;
  for (const name of (await readdir(dir)).sort()) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st?.isFile() || name === 'lock') continue;
    h.update(`${name} ${st.size} ${st.mtimeMs}\n`);
    files++;
  }
  return files === 0 ? '' : h.digest('hex');
}

export async function aptCache(args: string[], opts: { lists?: string; run?: (args: string[]) => Promise<AptAnswer> } = {}): Promise<AptAnswer & { cached: boolean }> {
  const run = opts.run ?? (async (a: string[]) => {
    const r = await execa('apt-cache', a, { reject: false });
    return { exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  });
  const stamp = await listsStamp(opts.lists);
  const file = cacheDir('apt', `${hashParts([stamp, ...args])}.json`);
  if (stamp !== '') {
    const kept = await readFile(file, 'utf8').then((t) => JSON.parse(t) as AptAnswer, () => undefined);
    if (kept !== undefined && kept.exitCode === 0) return { ...kept, cached: true };
  }
  const answer = await run(args);
  if (answer.exitCode === 0 && stamp !== '' && stamp === (await listsStamp(opts.lists))) {
    await writeCacheFile(file, JSON.stringify(answer));
  }
  return { ...answer, cached: false };
}
