import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFailingRun } from '../report/fixtures/runs.ts';
import { kcidbErrors } from '../report/kcidb/schema-check.ts';

let root: string;
let runDir: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ih-report-cli-'));
  runDir = (await writeFailingRun(root)).dir;
});
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const report = (args: string[]) => execa('node', ['--import', 'tsx', 'harness/cli/report.ts', ...args], { reject: false });

describe('npm run report', () => {
  it('prints the mail on stdout (exit 0)', async () => {
    const r = await report([runDir, '--format', 'email']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Subject: \[integrity-harness\] BUG: kernel NULL pointer dereference in/);
  }, 60_000);
  it('writes KCIDB data to --output with the origin asked for, valid against the schema', async () => {
    const out = join(root, 'kcidb.json');
    const r = await report([runDir, '--format', 'kcidb', '--output', out, '--kcidb-origin', 'my_lab']);
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(await readFile(out, 'utf8'));
    expect(kcidbErrors(doc)).toEqual([]);
    expect(doc.tests.every((t: { id: string }) => t.id.startsWith('my_lab:'))).toBe(true);
  }, 60_000);
  it('exits 255 naming what is wrong: no such run, an unknown format', async () => {
    const missing = await report([join(root, 'nope')]);
    expect(missing.exitCode).toBe(255);
    expect(missing.stderr).toContain(`${join(root, 'nope')}: no such run directory`);
    const format = await report([runDir, '--format', 'html']);
    expect(format.exitCode).toBe(255);
    expect(format.stderr).toMatch(/--format.*html/);
  }, 60_000);
});
