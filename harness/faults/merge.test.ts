/**
 * Injected faults (merge): the shards of an all-passing matrix, one of them lost, cut short or left running
 * by a job that died. `npm run merge` must never exit 0 for a matrix it does not hold whole: 125 naming the
 * shard, unless a failure in what it holds makes it 1.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import { RunResults, type Summary } from '../results.ts';
import type { Verdict } from '../verdict/types.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-faults-merge-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCENARIOS = ['integrity/001', 'integrity/002', 'integrity/003', 'integrity/004'];

/** Shard `index` of 2 over SCENARIOS on one kernel, every cell `verdict`, as the matrix writes it. */
async function shard(name: string, index: number, opts: { verdict?: Verdict; status?: 'complete' | 'interrupted' | 'running' } = {}): Promise<string> {
  const mine = SCENARIOS.filter((_, i) => i % 2 === index - 1);
  const r = await RunResults.create(join(root, name), ['matrix', '--shard', `${index}/2`], {
    runId: `s${index}`, plan: { kernels: ['6.1'], totalCells: SCENARIOS.length, cells: mine.length, repeat: 1, retries: 0, shard: { index, total: 2 } },
  });
  r.summary.kernels = [{ spec: '6.1', label: '6.1.0-57-amd64', status: 'ok' }];
  for (const sc of mine) {
    const verdict = opts.verdict ?? 'pass';
    await r.addCell({ id: `6.1.0-57-amd64/${sc}`, kernel: '6.1.0-57-amd64', kernelSpec: '6.1', scenario: sc, verdict, reason: `${verdict} here`, durationMs: 1, dir: '' });
  }
  if (opts.status !== 'running') await r.finish(opts.status ?? 'complete', 0);
  return r.dir;
}

function merge(name: string, dirs: string[]) {
  return execa('npx', ['tsx', join(repoRoot(), 'harness/cli/merge.ts'), '--results', join(root, name), ...dirs], { cwd: repoRoot(), reject: false });
}

const mergedSummary = (stdout: string): Summary => JSON.parse(readFileSync(join(stdout.split('\n')[0]!.split(' -> ')[1]!, 'summary.json'), 'utf8')) as Summary;

describe('injected faults: merging shards', () => {
  it('both shards, every cell passing: 0 (the control)', async () => {
    const r = await merge('out-whole', [await shard('whole', 1), await shard('whole', 2)]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(mergedSummary(r.stdout).incomplete).toBeUndefined();
  }, 60_000);

  it('a shard missing: 125, the shard named', async () => {
    const r = await merge('out-missing', [await shard('missing', 1)]);
    expect(r.exitCode, r.stderr).toBe(125);
    expect(r.stderr).toContain('merge: incomplete: shard(s) 2/2 not among the merged runs');
    expect(mergedSummary(r.stdout)).toMatchObject({ incomplete: ['shard(s) 2/2 not among the merged runs'], exitCode: 125 });
  }, 60_000);

  it("a shard whose summary.json was cut short: 125, that shard's directory named, the other merged", async () => {
    const two = await shard('truncated', 2);
    const file = join(two, 'summary.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    const r = await merge('out-truncated', [await shard('truncated', 1), two]);
    expect(r.exitCode, r.stderr).toBe(125);
    expect(r.stderr).toContain(`merge: incomplete: merge ${two}: ${file} is truncated or not JSON`);
    const s = mergedSummary(r.stdout);
    expect(s.cells).toHaveLength(2);
    expect(s.incomplete).toEqual([expect.stringContaining(`${file} is truncated or not JSON`), 'shard(s) 2/2 not among the merged runs']);
  }, 60_000);

  it('a shard left running by a job that died, or interrupted: 125, the shard named', async () => {
    for (const status of ['running', 'interrupted'] as const) {
      const two = await shard(`dead-${status}`, 2, { status });
      const r = await merge(`out-dead-${status}`, [await shard(`dead-${status}`, 1), two]);
      expect(r.exitCode, r.stderr).toBe(125);
      expect(r.stderr).toContain(`merge: incomplete: shard 2/2 ${two}: run is ${status}`);
    }
  }, 60_000);

  it('a failure in the shards it holds still makes it 1 beside a missing shard', async () => {
    const r = await merge('out-fail', [await shard('fail', 1, { verdict: 'fail' })]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain('merge: incomplete: shard(s) 2/2 not among the merged runs');
  }, 60_000);

  it('no shard readable at all: 125 and nothing merged', async () => {
    const one = await shard('none', 1);
    writeFileSync(join(one, 'summary.json'), '{"schemaVersion": 1, "runId": "s1", "sta');
    const r = await merge('out-none', [one]);
    expect(r.exitCode, r.stderr).toBe(125);
    expect(r.stderr).toContain('merge: no run could be read: nothing merged');
  }, 60_000);
});
