/**
 * The reports of a real run (fixtures/seed-regression: the seed patch on linux-source-6.1, crypt/001 crashed
 * in a real guest): the mail shows that oops trimmed, and the KCIDB document validates.
 */
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRun } from '../load-run.ts';
import { composeEmail } from './email/compose.ts';
import { loadReportInput } from './input.ts';
import { runToKcidb } from './kcidb/document.ts';
import { kcidbErrors } from './kcidb/schema-check.ts';
import { defaultUrlBase } from './kcidb/urls.ts';
import { scanConsole } from '../console.ts';

const FIXTURE = new URL('./fixtures/seed-regression', import.meta.url).pathname;
let dir: string;
beforeAll(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'ih-seed-')), 'run');
  await cp(FIXTURE, dir, { recursive: true });
});
afterAll(async () => { await rm(join(dir, '..'), { recursive: true, force: true }); });

describe('the reports of the real seed-regression run', () => {
  it('mail the oops as the console has it, minus timestamps and CRs, within 80 columns', async () => {
    const run = await loadRun(dir, 'test');
    const crash = run.summary.cells.find((c) => c.verdict === 'crash')!;
    const consoleText = readFileSync(join(dir, crash.dir, 'console.log'), 'utf8');
    const finding = scanConsole(consoleText)!;
    // what the console says between the oops line and the end of the trace, each line without its timestamp
    const raw = consoleText.slice(consoleText.indexOf(finding.line)).split('\n');
    const frames = raw.slice(0, raw.findIndex((l) => l.includes('</TASK>'))).map((l) => l.replace(/^\[\s*\d+\.\d+\]\s?/, '').replace(/\r$/, ''))
      .filter((l) => /^ [a-z_][a-z0-9_.]*\+0x[0-9a-f]+\/0x[0-9a-f]+$/.test(l));
    expect(frames.length).toBeGreaterThan(3);

    const mail = await composeEmail(await loadReportInput(dir));
    expect(mail.split('\n').filter((l) => l.length > 80)).toEqual([]);
    expect(mail).not.toContain('\r');
    expect(mail.split('\n\n')[0]).toBe('Subject: [integrity-harness] BUG: kernel NULL pointer dereference in\n bio_integrity_process');
    const oops = mail.slice(mail.indexOf('The guest kernel crashed'), mail.indexOf('How to reproduce'));
    expect(oops).toContain(`  ${finding.line.replace(/\r$/, '')}\n`);
    // every reliable frame, in order, indented under the mail's margin
    expect(oops).toContain(frames.map((f) => `  ${f}`).join('\n'));
    expect(oops).not.toMatch(/\[\s*\d+\.\d+\]/);
    expect(mail).toContain('Kernel under test:\n  spec:          src:6.1 --patch\n');
    expect(mail).toContain('Also tested (no failures):\n  spec:          src:6.1\n');
  });

  it('write KCIDB data that validates: the crash a FAIL on the patched build', async () => {
    const run = await loadRun(dir, 'test');
    const doc = await runToKcidb(run.summary, run.dir, { origin: 'integrity_harness', urlBase: defaultUrlBase(run.dir) });
    expect(kcidbErrors(doc)).toEqual([]);
    const failed = doc.tests.filter((t) => t.status === 'FAIL');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.build_id).toMatch(/\/6\.1\.192\+4\.13-bio-integrity-endio$/);
    expect(failed[0]!.log_excerpt).toContain('bio_integrity_process+0x135/0x18f');
  });
});
