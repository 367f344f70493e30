/**
 * The dispatcher with the guest replaced: runCell answers from a script of verdicts per cell, so repetition,
 * retry, abort and reporting rules are checked without QEMU (real runs are in *.guest.test.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { parseMatrixArgs } from '../config.ts';
import { planMatrix, withCompat } from '../plan.ts';
import { Reporters, type Reporter } from '../reporters/reporter.ts';
import { RunResults, type KernelRecord } from '../results.ts';
import type { Scenario } from '../scenario/load.ts';
import type { CellSpec } from './session/cell.ts';
import type { Verdict } from '../verdict/types.ts';

/** Verdicts each cell id returns, one per execution, in order. */
const script = new Map<string, Verdict[]>();
const calls: string[] = [];
/** A cell's reason and disagreement count instead of the defaults, for every execution of it. */
const details = new Map<string, { reason?: string; disagreements?: number }>();
const resultOf = (id: string, verdict: Verdict) => {
  const d = details.get(id);
  return { verdict, reason: d?.reason ?? `${verdict} here`, disagreements: Array.from({ length: d?.disagreements ?? 0 }, (_, i) => ({ step: 1, kind: 'read-data', expected: 'x', found: `y${i}` })) };
};

vi.mock('./run-cell.ts', () => ({
  runCell: vi.fn(async (spec: CellSpec) => {
    calls.push(`${spec.id} ${spec.dir.split('/').at(-1)}`);
    const verdict = script.get(spec.id)?.shift() ?? 'pass';
    return { ...resultOf(spec.id, verdict), durationMs: 10, bootMs: 5, kernelRelease: 'r', steps: [] };
  }),
}));

/** The shared-guest path: verdicts by (cell id, position in its guest); every guest opened is logged. */
const shared = new Map<string, Verdict>();
const guestsOpened: string[][] = [];

vi.mock('./share/shared-guest.ts', () => ({
  DISK_BUDGET: 24,
  guestKey: (spec: CellSpec) => spec.kernel.label,
  slotDisks: () => 3,
  SharedGuest: {
    open: async (batch: CellSpec[], guestDir: string) => {
      guestsOpened.push(batch.map((b) => b.id));
      return {
        run: async (spec: CellSpec, position: number) => {
          calls.push(`${spec.id} ${spec.dir.split('/').at(-1)} @${position}`);
          const { mkdir, writeFile } = await import('node:fs/promises');
          await mkdir(spec.dir, { recursive: true });
          await writeFile(join(spec.dir, 'console.log'), `console of ${spec.id} @${position}`);
          const verdict = shared.get(`${spec.id}@${position}`) ?? script.get(spec.id)?.shift() ?? 'pass';
          const result = { ...resultOf(spec.id, verdict), durationMs: 10, ...(position === 0 ? { bootMs: 5 } : {}), kernelRelease: 'r', steps: [] };
          return { verdict, reusable: verdict === 'pass' || verdict === 'skip', result, guestDir, before: position > 0 ? batch.slice(0, position).map((b) => b.scenario.id) : [] };
        },
        after: async (spec: CellSpec) => {
          const v = shared.get(`${spec.id}@after`);
          if (v === undefined) return undefined;
          const result = { verdict: v, reason: `${v} after it ended`, durationMs: 10, kernelRelease: 'r', steps: [], disagreements: [] };
          return { verdict: v, reusable: false, result, guestDir, before: [] };
        },
        close: async () => undefined,
      };
    },
  },
}));

vi.mock('./kernels.ts', () => ({
  isReady: (k: object) => 'image' in k,
  chooseAccelFor: async () => ({ accel: 'tcg', reason: 'test' }),
  prepareKernels: async (specs: KernelSpec[]) => new Map(specs.map((s) => [s.text, s.text === '4.13'
    ? { spec: '4.13', label: '4.13', status: 'unavailable', message: 'not here' } satisfies KernelRecord
    : { kernel: { spec: s.text, label: `k${s.text}`, bootImage: '/x', source: 'test' }, image: { path: '/i', hash: 'h', fromCache: true, modules: [] } }])),
}));

const { runMatrix } = await import('./matrix.ts');

const scenarios = [{ id: 'a/1', steps: [], stack: { type: 'integrity' } }, { id: 'a/2', steps: [], stack: { type: 'integrity' } }] as unknown as Scenario[];

describe('runMatrix', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ih-dispatch-'));
    script.clear();
    details.clear();
    shared.clear();
    calls.length = 0;
    guestsOpened.length = 0;
  });
  afterEach(async () => { await rm(root, { recursive: true, force: true }); });

  async function run(args: string[], opts: { stop?: AbortController; reporter?: Reporter; scenarios?: Scenario[]; compat?: Scenario[] } = {}) {
    const cfg = parseMatrixArgs([...(args.some((a) => a.startsWith('--share-guest')) ? [] : ['--share-guest', '1']), ...args, '--jobs', '1'], {});
    const matrix = planMatrix(cfg.kernels, opts.scenarios ?? scenarios, { repeat: cfg.repeat, retries: cfg.retries, ...(cfg.shard ? { shard: cfg.shard } : {}) });
    const plan = opts.compat !== undefined ? withCompat(matrix, { base: cfg.kernels[0]!, candidate: cfg.kernels[1]! }, opts.compat) : matrix;
    const results = await RunResults.create(root, ['matrix', ...args]);
    const events: string[] = [];
    const rec: Reporter = {
      onBegin: (i) => { events.push(`begin ${i.cells} ${i.executions}`); },
      onExecutionBegin: (e) => { events.push(`exec ${e.id} ${e.repeat}/${e.repeats} try ${e.attempt}`); },
      onCellEnd: (c) => { events.push(`cell ${c.id} ${c.verdict}${c.flaky ? ' flaky' : ''}`); },
    };
    await runMatrix(cfg, plan, results, new Reporters([rec, ...(opts.reporter ? [opts.reporter] : [])]), () => undefined, opts.stop?.signal);
    return { results, events };
  }

  it('counts a gate\'s compatibility cells whose two kernels are ready in the run\'s begin (they run after the matrix\'s)', async () => {
    const compat = [{ id: 'compat/x', steps: [], stack: { type: 'integrity' } }] as unknown as Scenario[];
    const ready = await run(['--kernel', '6.1', '--kernel', '6.12', '--repeat', '2'], { compat });
    expect(ready.events[0]).toBe('begin 6 12');
    expect(ready.results.summary.cells).toHaveLength(4);
    const one = await run(['--kernel', '6.1', '--kernel', '4.13'], { compat });
    expect(one.events[0]).toBe('begin 2 2');
  });

  it('runs each cell once in its own directory, records unavailable kernels as skip without running or reporting them one by one', async () => {
    const { results, events } = await run(['--kernel', '6.1', '--kernel', '4.13']);
    expect(calls).toEqual(['k6.1/a/1 k6.1__a_1', 'k6.1/a/2 k6.1__a_2']);
    expect(events[0]).toBe('begin 2 2');
    expect(events.filter((e) => e.includes('4.13'))).toEqual([]);
    expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.kernelSpec}`).sort()).toEqual([
      '4.13/a/1 skip 4.13', '4.13/a/2 skip 4.13', 'k6.1/a/1 pass 6.1', 'k6.1/a/2 pass 6.1',
    ]);
    expect(results.summary.cells.find((c) => c.id === 'k6.1/a/1')).toMatchObject({ dir: 'cells/k6.1__a_1', bootMs: 5, kernelRelease: 'r' });
  });

  it('retries an execution only after an infrastructure error, never after a fail', async () => {
    script.set('k6.1/a/1', ['error', 'error', 'pass']);
    script.set('k6.1/a/2', ['fail', 'pass']);
    const { results, events } = await run(['--kernel', '6.1', '--retries', '2']);
    expect(calls).toEqual(['k6.1/a/1 rep1-try1', 'k6.1/a/1 rep1-try2', 'k6.1/a/1 rep1-try3', 'k6.1/a/2 rep1-try1']);
    expect(events).toContain('exec k6.1/a/1 1/1 try 3');
    const a1 = results.summary.cells.find((c) => c.id === 'k6.1/a/1')!;
    expect(a1).toMatchObject({ verdict: 'pass', dir: 'cells/k6.1__a_1/rep1-try3' });
    expect(a1.runs!.map((r) => r.verdict)).toEqual(['error', 'error', 'pass']);
    expect(results.summary.cells.find((c) => c.id === 'k6.1/a/2')).toMatchObject({ verdict: 'fail' });
  });

  it('does not retry an error that came after disagreements with the model: the record keeps them', async () => {
    script.set('k6.1/a/1', ['error', 'pass']);
    details.set('k6.1/a/1', { reason: 'agent failed running dmsetup remove', disagreements: 3 });
    const { results } = await run(['--kernel', '6.1', '--retries', '2', '--scenario', 'a/1']);
    expect(calls.filter((c) => c.startsWith('k6.1/a/1'))).toEqual(['k6.1/a/1 rep1-try1']);
    expect(results.summary.cells.find((c) => c.id === 'k6.1/a/1')).toMatchObject({ verdict: 'error', disagreements: 3 });
  });

  it('keeps every attempt of a retried cell in summary.json, each with its own reason and directory', async () => {
    script.set('k6.1/a/1', ['error', 'error', 'pass']);
    const { results } = await run(['--kernel', '6.1', '--retries', '2', '--scenario', 'a/1']);
    expect(results.summary.cells.find((c) => c.id === 'k6.1/a/1')!.runs!.map((r) => `${r.attempt} ${r.verdict} ${r.reason} ${r.dir}`)).toEqual([
      '1 error error here cells/k6.1__a_1/rep1-try1', '2 error error here cells/k6.1__a_1/rep1-try2', '3 pass pass here cells/k6.1__a_1/rep1-try3',
    ]);
  });

  it('a kernel its guest could not test boots no further guest: its other cells end untested at once, none retried', async () => {
    details.set('k6.1/a/1', { reason: 'kernel not tested: the guest could not load module(s) the stacks need: dm_integrity: gone' });
    script.set('k6.1/a/1', ['error']);
    const { results } = await run(['--kernel', '6.1', '--retries', '2']);
    expect(calls).toEqual(['k6.1/a/1 rep1-try1']);
    expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.reason}`)).toEqual([
      'k6.1/a/1 error kernel not tested: the guest could not load module(s) the stacks need: dm_integrity: gone',
      'k6.1/a/2 error kernel not tested: the guest could not load module(s) the stacks need: dm_integrity: gone',
    ]);
    expect(results.summary.cells[1]).toMatchObject({ dir: '' });
  });

  it('gives up after --retries and keeps the error', async () => {
    script.set('k6.1/a/1', ['error', 'error', 'error']);
    const { results } = await run(['--kernel', '6.1', '--retries', '1', '--scenario', 'a/1']);
    expect(calls.filter((c) => c.startsWith('k6.1/a/1'))).toHaveLength(2);
    expect(results.summary.cells.find((c) => c.id === 'k6.1/a/1')?.verdict).toBe('error');
  });

  it('repeats each cell, reports it once when all repetitions are in, and marks mixed verdicts flaky', async () => {
    script.set('k6.1/a/1', ['pass', 'crash', 'pass']);
    const { results, events } = await run(['--kernel', '6.1', '--repeat', '3']);
    expect(events[0]).toBe('begin 2 6');
    expect(events.filter((e) => e.startsWith('cell '))).toEqual(['cell k6.1/a/1 crash flaky', 'cell k6.1/a/2 pass']);
    const a1 = results.summary.cells.find((c) => c.id === 'k6.1/a/1')!;
    expect(a1.runs!.map((r) => `${r.repeat}:${r.verdict}`)).toEqual(['1:pass', '2:crash', '3:pass']);
    expect(a1.dir).toBe('cells/k6.1__a_1/rep2-try1');
    expect(a1.durationMs).toBe(30);
  });

  it('runs only its shard', async () => {
    await run(['--kernel', '6.1', '--shard', '2/2']);
    expect(calls).toEqual(['k6.1/a/2 k6.1__a_2']);
  });

  it('after a stop, boots nothing new and records no interrupted cell', async () => {
    const stop = new AbortController();
    const reporter: Reporter = { onExecutionBegin: () => { stop.abort(); } };
    const { results } = await run(['--kernel', '6.1'], { stop, reporter });
    expect(calls).toEqual(['k6.1/a/1 k6.1__a_1']);
    expect(results.summary.cells).toEqual([]);
  });

  describe('with --share-guest', () => {
    it('runs the scenarios of a kernel in one guest, each in its own directory', async () => {
      const { results, events } = await run(['--kernel', '6.1', '--share-guest', '3']);
      expect(guestsOpened).toEqual([['k6.1/a/1', 'k6.1/a/2']]);
      expect(calls).toEqual(['k6.1/a/1 k6.1__a_1 @0', 'k6.1/a/2 k6.1__a_2 @1']);
      expect(events.filter((e) => e.startsWith('exec '))).toHaveLength(2);
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.dir}`)).toEqual(['k6.1/a/1 pass cells/k6.1__a_1', 'k6.1/a/2 pass cells/k6.1__a_2']);
      expect(results.summary.cells[0]).toMatchObject({ bootMs: 5 });
    });

    it('keeps a crash seen only after another scenario as the verdict, with the fresh guest\'s pass beside it', async () => {
      shared.set('k6.1/a/2@1', 'crash');
      const { results, events } = await run(['--kernel', '6.1', '--share-guest', '3']);
      expect(guestsOpened).toEqual([['k6.1/a/1', 'k6.1/a/2'], ['k6.1/a/2']]);
      // the shared run's guest and files are the evidence the verdict comes from
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.guest} ${c.dir}`)).toEqual([
        'k6.1/a/1 pass guests/k6.1-1 cells/k6.1__a_1', 'k6.1/a/2 crash guests/k6.1-1 cells/k6.1__a_2/shared-run',
      ]);
      const cell = results.summary.cells[1]!;
      expect(cell.sharedRun).toMatchObject({ verdict: 'crash', before: ['a/1'], guest: 'guests/k6.1-1', rerun: { verdict: 'pass', dir: 'cells/k6.1__a_2' } });
      expect(cell.reason).toMatch(/crash here \(in a shared guest after a\/1; run again first in a fresh guest it passed/);
      expect(events.filter((e) => e.startsWith('exec k6.1/a/2'))).toHaveLength(1);
      const { readFile } = await import('node:fs/promises');
      expect(await readFile(join(results.dir, 'cells/k6.1__a_2/shared-run/console.log'), 'utf8')).toBe('console of k6.1/a/2 @1');
      expect(await readFile(join(results.dir, 'cells/k6.1__a_2/console.log'), 'utf8')).toBe('console of k6.1/a/2 @0');
    });

    it('keeps a crash found on the console after a passing first scenario ended as its verdict', async () => {
      shared.set('k6.1/a/1@after', 'crash');
      const { results } = await run(['--kernel', '6.1', '--share-guest', '3']);
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.reason}`)).toEqual(['k6.1/a/1 crash crash after it ended', 'k6.1/a/2 pass pass here']);
    });

    it('does not keep an infrastructure error of a shared sequence: the fresh guest\'s run is the verdict', async () => {
      shared.set('k6.1/a/2@1', 'error');
      const { results } = await run(['--kernel', '6.1', '--share-guest', '3']);
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.dir}`)).toEqual(['k6.1/a/1 pass cells/k6.1__a_1', 'k6.1/a/2 pass cells/k6.1__a_2']);
      expect(results.summary.cells[1]!.sharedRun).toBeUndefined();
    });

    it('runs a scenario with a kill step in a guest of its own: it ends its QEMU and boots another', async () => {
      const withKill = [...scenarios, { id: 'a/3', steps: [{ kill: { seed: 1 } }], stack: { type: 'integrity' } }] as unknown as Scenario[];
      const { results } = await run(['--kernel', '6.1', '--share-guest', '3'], { scenarios: withKill });
      expect(guestsOpened).toEqual([['k6.1/a/1', 'k6.1/a/2']]);
      expect(calls).toContain('k6.1/a/3 k6.1__a_3');
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict}`).sort()).toEqual(['k6.1/a/1 pass', 'k6.1/a/2 pass', 'k6.1/a/3 pass']);
    });

    it('a kernel its guest could not test opens no further guest', async () => {
      const three = [...scenarios, { id: 'a/3', steps: [], stack: { type: 'integrity' } }] as unknown as Scenario[];
      details.set('k6.1/a/1', { reason: 'kernel not tested: the guest could not load module(s) the stacks need: dm_integrity: gone' });
      script.set('k6.1/a/1', ['error']);
      const { results } = await run(['--kernel', '6.1', '--share-guest', '3', '--retries', '1'], { scenarios: three });
      expect(guestsOpened).toEqual([['k6.1/a/1', 'k6.1/a/2', 'k6.1/a/3']]);
      expect(calls).toEqual(['k6.1/a/1 rep1-try1 @0']);
      expect(results.summary.cells.map((c) => `${c.id} ${c.verdict} ${c.dir === '' ? 'no-dir' : c.dir}`).sort()).toEqual([
        'k6.1/a/1 error cells/k6.1__a_1/rep1-try1', 'k6.1/a/2 error no-dir', 'k6.1/a/3 error no-dir',
      ]);
      expect(results.summary.cells.every((c) => c.reason.startsWith('kernel not tested: '))).toBe(true);
    });

    it('retries an infrastructure error in a fresh guest and its own directory', async () => {
      script.set('k6.1/a/1', ['error', 'pass']);
      const { results } = await run(['--kernel', '6.1', '--share-guest', '3', '--retries', '1']);
      expect(calls).toEqual(['k6.1/a/1 rep1-try1 @0', 'k6.1/a/1 rep1-try2 @0', 'k6.1/a/2 rep1-try1 @1']);
      expect(results.summary.cells.find((c) => c.id === 'k6.1/a/1')).toMatchObject({ verdict: 'pass', dir: 'cells/k6.1__a_1/rep1-try2' });
    });
  });
});
