/**
 * `npm run matrix --shard` twice and `npm run merge` as CI runs them (docs/matrix.md): four integrity
 * scenarios on Debian 6.1 dealt to two shards, each shard one shared guest, merged into one run that holds
 * every cell once with its shard's verdict, a summary valid against its schema, and the shards' guests
 * (both named guests/<kernel>-1 in their shard) copied under distinct names that the cells point at.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../vm/cache.ts';
import type { Summary } from './results.ts';
import { loadSchema, validate } from './schema/validate.ts';

process.env.IH_CACHE_DIR ??= join(repoRoot(), '.cache');
const root = mkdtempSync(join(tmpdir(), 'ih-merge-guest-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const npm = (args: string[]) => execa('npm', ['run', '--silent', ...args], { cwd: repoRoot(), reject: false, all: true });
const summaryIn = (dir: string): Summary => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;

describe('npm run merge of two shards of a --share-guest matrix', () => {
  it('gives every cell once with its shard\'s verdict, a valid summary, and the guests\' consoles where the cells point', async () => {
    const shards: Array<{ dir: string; summary: Summary }> = [];
    for (const i of [1, 2]) {
      const results = join(root, `shard${i}`);
      const r = await npm(['matrix', '--', '--kernel', '6.1', '--scenario', 'integrity/00[1-4]*', '--jobs', '1', '--shard', `${i}/2`, '--results', results]);
      expect(r.exitCode, r.all).toBe(0);
      const dir = join(results, readdirSync(results).find((n) => n !== 'latest')!);
      const summary = summaryIn(dir);
      expect(summary.status).toBe('complete');
      expect(summary.plan?.shard).toEqual({ index: i, total: 2 });
      // a guest booted 6.1 and ran the shard's cells in it: not a pass without a guest
      expect(summary.cells.length).toBe(2);
      for (const c of summary.cells) expect(c.kernelRelease, c.id).toMatch(/^6\.1\./);
      expect(summary.cells.some((c) => (c.bootMs ?? 0) > 0)).toBe(true);
      expect(summary.cells.every((c) => c.guest !== undefined && existsSync(join(dir, c.guest, 'console.log')))).toBe(true);
      shards.push({ dir, summary });
    }
    const shardCells = shards.flatMap((s) => s.summary.cells);
    expect(new Set(shardCells.map((c) => c.id)).size).toBe(4); // the shards are disjoint and cover the 4 scenarios

    const r = await npm(['merge', '--', '--results', join(root, 'merged'), ...shards.map((s) => s.dir)]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).not.toContain('warning');
    const dir = r.stdout.split('\n').find((l) => l.startsWith('merged '))!.split(' -> ')[1]!;
    const s = summaryIn(dir);
    expect(validate(loadSchema('summary'), s)).toEqual([]);
    expect(s.status).toBe('complete');
    expect(s.exitCode).toBe(0);
    expect(s.mergedFrom?.map((m) => m.shard)).toEqual([{ index: 1, total: 2 }, { index: 2, total: 2 }]);
    expect(s.cells.map((c) => c.id).sort()).toEqual(shardCells.map((c) => c.id).sort());
    expect(Object.fromEntries(s.cells.map((c) => [c.id, c.verdict]))).toEqual(Object.fromEntries(shardCells.map((c) => [c.id, c.verdict])));
    expect(s.counts.pass).toBe(shardCells.filter((c) => c.verdict === 'pass').length);
    for (const f of ['junit.xml', 'ktap.txt', 'report.html']) expect(existsSync(join(dir, f)), f).toBe(true);

    // both shards had guests/<label>-1: two distinct guests here, each holding the console of its cells
    const guests = new Set(s.cells.map((c) => c.guest));
    expect(guests.size).toBe(2);
    expect(readdirSync(join(dir, 'guests')).length).toBe(2);
    for (const c of s.cells) {
      expect(existsSync(join(dir, c.dir, 'console.log')), c.dir).toBe(true);
      expect(existsSync(join(dir, c.dir, 'steps.jsonl')), c.dir).toBe(true);
      const guest = JSON.parse(readFileSync(join(dir, c.guest!, 'guest.json'), 'utf8')) as { slots: string[] };
      expect(guest.slots).toContain(c.id);
      expect(readFileSync(join(dir, c.guest!, 'console.log'), 'utf8')).toContain(`ih: scenario`);
      const result = JSON.parse(readFileSync(join(dir, c.dir, 'result.json'), 'utf8')) as { verdict: string; sharedGuest: { dir: string } };
      expect(result.verdict).toBe(c.verdict);
      expect(result.sharedGuest.dir).toBe(join(dir, c.guest!));
    }
  }, 600_000);
});
