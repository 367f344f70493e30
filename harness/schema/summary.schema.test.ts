import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunResults, type CellRecord, type Summary } from '../results.ts';
import { loadSchema, validate } from './validate.ts';

const schema = loadSchema('summary');

/** A cell with every optional field set: if a field is added to CellRecord, it must be added here and to the schema. */
const fullCell: Required<CellRecord> = {
  id: '6.1.0-56-amd64/integrity/001', kernel: '6.1.0-56-amd64', kernelSpec: '6.1', scenario: 'integrity/001', verdict: 'crash',
  reason: 'flaky: 1 pass, 1 crash in 2 repetitions; repetition 2: BUG: kernel NULL pointer dereference', durationMs: 61000, bootMs: 17000,
  kernelRelease: '6.1.0-56-amd64', signature: 'BUG: kernel NULL pointer dereference @ bio_integrity_verify_fn',
  dir: 'cells/x/rep2-try1', guest: 'guests/6.1.0-56-amd64-2', flaky: true, disagreements: 2,
  runs: [
    { repeat: 1, attempt: 1, verdict: 'error', reason: 'QEMU exited', durationMs: 1000, dir: 'cells/x/rep1-try1', disagreements: 2 },
    { repeat: 1, attempt: 2, verdict: 'pass', reason: 'ok', durationMs: 30000, bootMs: 17000, dir: 'cells/x/rep1-try2' },
    { repeat: 2, attempt: 1, verdict: 'crash', reason: 'BUG', durationMs: 30000, signature: 'BUG @ f', dir: 'cells/x/rep2-try1', guest: 'guests/6.1.0-56-amd64-2' },
  ],
  sharedRun: {
    verdict: 'crash', reason: 'BUG', signature: 'BUG @ f', before: ['integrity/001'], dir: 'cells/x/rep2-try1/shared-run', guest: 'guests/6.1.0-56-amd64-2',
    rerun: { verdict: 'pass', reason: 'ok', dir: 'cells/x/rep2-try1' },
  },
  baseline: { verdict: 'pass', change: 'regression' },
  gate: { role: 'compat', base: 'pass', change: 'regression', writer: 'base', reader: 'candidate' },
};

describe('summary.schema.json', () => {
  it('accepts a real summary.json written by a matrix run (6.1 pass, 4.13 skip, compared with a baseline run)', async () => {
    const real = JSON.parse(await readFile(new URL('./fixtures/summary-6.1-4.13.json', import.meta.url), 'utf8')) as Summary;
    expect(real.cells.map((c) => c.verdict).sort()).toEqual(['pass', 'skip']);
    expect(validate(schema, real)).toEqual([]);
  });

  it('accepts what RunResults writes, with every optional field of a cell set', async () => {
    const root = join(tmpdir(), `ih-schema-${process.pid}`);
    try {
      const r = await RunResults.create(root, ['matrix', '--repeat', '2'], { plan: { kernels: ['6.1', '6.12'], totalCells: 4, cells: 2, repeat: 2, retries: 1, shard: { index: 1, total: 2 }, slowNotRun: { scenarios: ['crash/001'], globs: ['crash/*'] } } });
      await r.addCell(fullCell);
      r.summary.baseline = { runId: 'base', dir: '/tmp/base', regressions: 1, unjudged: 0, fixed: 0 };
      r.summary.mergedFrom = [{ runId: 'a', dir: '/tmp/a', shard: { index: 1, total: 2 } }];
      r.summary.accelerator = { accel: 'tcg', reason: 'no kvm' };
      r.summary.gate = {
        base: { spec: 'src:6.1', label: '6.1.158' }, candidate: { spec: 'src:6.1 --patch x.patch', label: '6.1.158+x' },
        regressions: 1, unjudged: 0, fixed: 0, compared: 3, compat: ['compat/integrity-crc32c-journal'],
      };
      r.summary.untested = [{ kernel: '6.13', reason: 'could not be had: no linux-image-6.13' }, { kernel: '6.1', label: '6.1.0-56-amd64', reason: 'the guest could not load module(s)' }];
      r.summary.incomplete = ['shard 2/2 not among the merged runs'];
      await r.finish('complete', 1);
      const written = JSON.parse(await readFile(join(r.dir, 'summary.json'), 'utf8'));
      expect(validate(schema, written)).toEqual([]);
      expect(written.counts.crash).toBe(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('rejects summaries that break it, naming the place', async () => {
    const real = JSON.parse(await readFile(new URL('./fixtures/summary-6.1-4.13.json', import.meta.url), 'utf8')) as Record<string, any>;
    const broken = (edit: (s: any) => void) => {
      const s = structuredClone(real);
      edit(s);
      return validate(schema, s);
    };
    expect(broken((s) => { s.cells[0].verdict = 'passed'; })).toEqual([expect.stringMatching(/^\$\.cells\[0\]\.verdict: expected one of "pass"/)]);
    expect(broken((s) => { delete s.cells[1].kernelSpec; })).toEqual(["$.cells[1]: missing required property 'kernelSpec'"]);
    expect(broken((s) => { s.cells[1].colour = 'green'; })).toEqual(["$.cells[1]: unexpected property 'colour'"]);
    expect(broken((s) => { s.counts.pass = -1; })).toEqual(['$.counts.pass: -1 is below the minimum 0']);
    expect(broken((s) => { s.startedAt = 'yesterday'; })).toEqual(["$.startedAt: 'yesterday' is not an RFC 3339 date-time"]);
    expect(broken((s) => { s.schemaVersion = 2; })).toEqual(['$.schemaVersion: expected 1, got 2']);
    expect(broken((s) => { s.cells[1].durationMs = 1.5; })).toEqual(['$.cells[1].durationMs: expected integer, got number']);
    expect(broken((s) => { s.cells[1].baseline = { verdict: 'maybe', change: 'new' }; })).toEqual(['$.cells[1].baseline.verdict: matches 0 of the oneOf alternatives, expected exactly 1']);
    expect(broken((s) => { s.cells[1].baseline = { verdict: null, change: 'new' }; })).toEqual([]);
    expect(broken((s) => { s.cells[1].runs = [{ repeat: 0, attempt: 1, verdict: 'pass', reason: '', durationMs: 1, dir: '' }]; })).toEqual(['$.cells[1].runs[0].repeat: 0 is below the minimum 1']);
  });

  it('refuses a schema keyword the validator does not implement instead of ignoring it', () => {
    expect(() => validate({ type: 'string', maxLength: 3 }, 'abcd')).toThrow(/keyword 'maxLength'/);
  });
});
