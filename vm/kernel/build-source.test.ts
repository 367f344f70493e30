import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { resolveSource } from './build-source.ts';

async function gitTree(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Makefile'), 'all:\n');
  await execa('git', ['init', '-q'], { cwd: dir });
  await execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'x'], { cwd: dir });
  return dir;
}

describe('resolveSource for a tree as checked out', () => {
  it('owns a tree inside the cache (a bisect worktree), never one outside it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ih-src-'));
    const cacheDir = join(root, 'cache');
    const ctx = { cacheDir, warn: () => undefined, log: () => undefined };
    const inside = await gitTree(join(cacheDir, 'bisect', 'wt-1'));
    const outside = await gitTree(join(root, 'linux'));
    expect(await resolveSource({ kind: 'tree', path: inside }, ctx)).toMatchObject({ cacheOwned: true });
    expect(await resolveSource({ kind: 'tree', path: outside }, ctx)).toMatchObject({ cacheOwned: false });
    expect(await resolveSource({ kind: 'tree', path: `${cacheDir}-other` }, ctx).catch((e: Error) => e.message)).toMatch(/not a directory/);
  });
});
