import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from './errors.ts';
import { loadRun } from './load-run.ts';
import { writeFakeRun } from './reports/fake-run.ts';

describe('loadRun', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'ih-baseline-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reads a run directory or its summary.json, validated', async () => {
    const r = await writeFakeRun(dir, { runId: 'base-1' });
    expect((await loadRun(r.dir)).summary.cells).toHaveLength(7);
    expect((await loadRun(join(r.dir, 'summary.json'))).dir).toBe(r.dir);
  });
  it('names the option, the path and what is wrong', async () => {
    await expect(loadRun(join(dir, 'nope'))).rejects.toThrow(`--baseline ${join(dir, 'nope')}: no such run directory`);
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ schemaVersion: 1 }));
    await expect(loadRun(join(dir, 'bad.json'))).rejects.toThrow(UsageError);
    await expect(loadRun(join(dir, 'bad.json'))).rejects.toThrow(/is not a run summary:\n  \$: missing required property 'runId'/);
  });
});
