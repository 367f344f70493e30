import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRun } from './load-run.ts';
import { finishRun } from './finish.ts';
import { mergeIncomplete, mergeRuns, mergeWarnings, mergeSlowNotRun } from './merge.ts';
import { writeFakeRun } from './reports/fake-run.ts';
import { loadSchema, validate } from './schema/validate.ts';

const SHARD1 = ['integrity/001-pass', 'integrity/002-fail', 'integrity/003-crash'];
const SHARD2 = ['integrity/004-hang', 'integrity/005-error', 'integrity/006-flaky'];

describe('mergeRuns', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ih-merge-'));
    await writeFakeRun(join(root, 'shards'), { runId: 's1', only: SHARD1, shard: { index: 1, total: 3 } });
    await writeFakeRun(join(root, 'shards'), { runId: 's2', only: SHARD2, shard: { index: 2, total: 3 } });
  });
  afterAll(async () => { await rm(root, { recursive: true, force: true }); });

  it('unites the cells of shards into a valid run, copying cell folders without disk images', async () => {
    const runs = [await loadRun(join(root, 'shards', 's1')), await loadRun(join(root, 'shards', 's2'))];
    expect(mergeIncomplete(runs)).toEqual(['shard(s) 3/3 not among the merged runs']);
    expect(mergeWarnings(runs)).toEqual([]);
    const out = await mergeRuns(runs, join(root, 'merged'), ['merge', 's1', 's2']);
    const code = await finishRun(out, 'complete');
    const s = JSON.parse(await readFile(join(out.dir, 'summary.json'), 'utf8'));
    expect(validate(loadSchema('summary'), s)).toEqual([]);
    // The 4.13 cell of 001-pass (skip) came with shard 1.
    expect(s.cells.map((c: { id: string }) => c.id).sort()).toEqual(['4.13/integrity/001-pass', ...[...SHARD1, ...SHARD2].map((x) => `6.1.0-56-amd64/${x}`)].sort());
    expect(s.counts).toEqual({ pass: 1, fail: 1, crash: 2, hang: 1, error: 1, skip: 1 });
    expect(s.mergedFrom.map((m: { runId: string }) => m.runId)).toEqual(['s1', 's2']);
    expect(s.plan).toEqual({ kernels: ['6.1', '4.13'], totalCells: 7, cells: 7, repeat: 2, retries: 0 });
    expect(code).toBe(1);
    const crash = s.cells.find((c: { scenario: string }) => c.scenario === 'integrity/003-crash');
    expect(existsSync(join(out.dir, crash.dir, 'console.log'))).toBe(true);
    expect(existsSync(join(root, 'shards', 's1', crash.dir, 'disks', 'data.img'))).toBe(true);
    expect(existsSync(join(out.dir, crash.dir, 'disks'))).toBe(false);
    const flaky = s.cells.find((c: { scenario: string }) => c.scenario === 'integrity/006-flaky');
    expect(flaky.runs.map((r: { dir: string }) => existsSync(join(out.dir, r.dir, 'console.log')))).toEqual([true, true]);
  });

  it('combines the same cell from two runs as repetitions: pass there and crash here is flaky', async () => {
    await writeFakeRun(join(root, 'twice'), { runId: 'a', only: ['integrity/001-pass'] });
    await writeFakeRun(join(root, 'twice'), { runId: 'b', only: ['integrity/003-crash', 'integrity/001-pass'] });
    const b = await loadRun(join(root, 'twice', 'b'));
    // Make run b's 001-pass a crash to model a kernel that crashes now and then.
    const c = b.summary.cells.find((x) => x.scenario === 'integrity/001-pass')!;
    Object.assign(c, { verdict: 'crash', reason: 'BUG: x', dir: b.summary.cells.find((x) => x.scenario === 'integrity/003-crash')!.dir });
    const out = await mergeRuns([await loadRun(join(root, 'twice', 'a')), b], join(root, 'merged2'), ['merge']);
    const cell = out.summary.cells.find((x) => x.scenario === 'integrity/001-pass')!;
    expect(cell).toMatchObject({ verdict: 'crash', flaky: true });
    expect(cell.runs!.map((r) => [r.repeat, r.verdict])).toEqual([[1, 'pass'], [2, 'crash']]);
    expect(cell.runs!.every((r) => existsSync(join(out.dir, r.dir, 'console.log')))).toBe(true);
    expect(new Set(cell.runs!.map((r) => r.dir.split('/')[1])).size).toBe(2);
  });

  it('npm run merge writes summary and reports and exits like the matrix (1: fail/crash/hang)', async () => {
    const r = await execa('npx', ['tsx', 'harness/cli/merge.ts', '--results', join(root, 'cli'), join(root, 'shards', 's1'), join(root, 'shards', 's2')], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('merge: incomplete: shard(s) 3/3 not among the merged runs');
    expect(r.stdout).toMatch(/^merged 2 run\(s\), 7 cell\(s\) -> /);
    const dir = r.stdout.split('\n')[0]!.split(' -> ')[1]!;
    for (const f of ['summary.json', 'junit.xml', 'ktap.txt', 'report.html']) expect(existsSync(join(dir, f))).toBe(true);
    const bad = await execa('npx', ['tsx', 'harness/cli/merge.ts', join(root, 'missing')], { reject: false });
    expect(bad.exitCode).toBe(255);
    expect(bad.stderr).toContain(`merge ${join(root, 'missing')}: no such run directory`);
  }, 60_000);
});

describe('mergeSlowNotRun', () => {
  const plan = { totalCells: 2, cells: 1, repeat: 1, retries: 0 };
  const crash = { scenarios: ['crash/001', 'crash/002'], globs: ['crash/*'] };

  it('shards of one quick run agree: the list and its globs stay', () => {
    expect(mergeSlowNotRun([{ ...plan, slowNotRun: crash }, { ...plan, slowNotRun: crash }], new Set(['integrity/001']))).toEqual(crash);
  });

  it('a merged run that ran some of them takes those off the list', () => {
    expect(mergeSlowNotRun([{ ...plan, slowNotRun: crash }, { ...plan, slowNotRun: { scenarios: [], globs: [] } }], new Set(['crash/002'])))
      .toEqual({ scenarios: ['crash/001'], globs: ['crash/001'] });
  });

  it('runs older than the field say nothing', () => {
    expect(mergeSlowNotRun([plan], new Set())).toBeUndefined();
  });
});
