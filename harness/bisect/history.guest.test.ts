// The bisection proof (opt-in: IH_SLOW_TESTS=1; it builds kernels): a four-commit history on linux-source-6.1
// (clean, unrelated, the 4.13 bug class reintroduced, unrelated) bisected by `npm run bisect` to the third.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { seedHistory } from './history-fixture.ts';
import type { BisectReport } from './record.ts';

describe.skipIf(process.env.IH_SLOW_TESTS !== '1')('npm run bisect on a linux-source-6.1 history', () => {
  it('reports the commit that applies the seed regression as the first bad commit', { timeout: 4 * 3600_000 }, async () => {
    const started = Date.now();
    const history = await seedHistory({ cacheDir: cacheDir(), log: (l) => process.stderr.write(`${l}\n`) });
    const [clean, , seed, last] = history.commits as [string, string, string, string];
    const resultsRoot = mkdtempSync(join(tmpdir(), 'ih-bisect-history-'));
    const r = await execa(
      'npm',
      ['run', '-s', 'bisect', '--', '--tree', history.repo, '--good', clean, '--bad', last, '--scenario', 'crypt/001*', '--jobs', '1', '--boot-timeout', '240', '--results', resultsRoot],
      { cwd: repoRoot(), reject: false, all: true, env: { IH_CACHE_DIR: cacheDir() } },
    );
    const output = String(r.all);
    writeFileSync(join(resultsRoot, 'bisect.log'), output);
    process.stderr.write(`npm run bisect: exit ${r.exitCode} after ${((Date.now() - started) / 1000).toFixed(0)} s; log ${resultsRoot}/bisect.log\n`);
    expect(r.exitCode, output.slice(-4000)).toBe(0);
    expect(r.stdout).toContain(`first bad commit: ${seed}`);

    const report = JSON.parse(readFileSync(join(resultsRoot, 'latest-bisect', 'bisect.json'), 'utf8')) as BisectReport;
    expect(report).toMatchObject({ status: 'found', exitCode: 0, firstBad: { commit: seed } });
    // Bad means the seed's oops, found at the bad end: not any failure.
    expect(report.signatures).toEqual([expect.stringMatching(/^BUG: kernel NULL pointer dereference/)]);
    expect(report.firstBad!.cells).toEqual([expect.objectContaining({ id: expect.stringContaining('crypt/001'), verdict: 'crash' })]);
    expect(report.steps.find((s) => s.role === 'bad-end')).toMatchObject({ commit: last, verdict: 'bad' });
    expect(report.steps.find((s) => s.role === 'good-end')).toMatchObject({ commit: clean, verdict: 'good' });
    for (const s of report.steps) expect(s.runs[0]!.results, JSON.stringify(s)).toBeDefined();

    // The repository is left as it was: no worktree, no bisection in progress.
    const worktrees = (await execa('git', ['-C', history.repo, 'worktree', 'list', '--porcelain'])).stdout;
    expect(worktrees.match(/^worktree /gm)).toHaveLength(1);
  });
});
