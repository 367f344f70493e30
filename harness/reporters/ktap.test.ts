import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllDetails } from '../reports/details.ts';
import { writeFakeRun } from '../reports/fake-run.ts';
import { kunitParserDir, parseWithKunit } from '../reports/kunit.ts';
import { needs, testRequirement } from '../test/requirements.ts';
import type { RunResults } from '../results.ts';
import { buildKtap } from './ktap.ts';

describe('ktap.txt', () => {
  let dir: string, run: RunResults, ktap: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ih-ktap-'));
    run = await writeFakeRun(dir);
    ktap = buildKtap(run.summary, await loadAllDetails(run.dir, run.summary.cells));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is KTAP version 1 with one result line per cell and the directive for each verdict', () => {
    const lines = ktap.split('\n');
    expect(lines.slice(0, 2)).toEqual(['KTAP version 1', '1..7']);
    const results = lines.filter((l) => /^(not )?ok \d+ /.test(l));
    expect(results).toEqual([
      'ok 1 6.1.0-56-amd64/integrity/001-pass',
      'not ok 2 6.1.0-56-amd64/integrity/002-fail',
      'not ok 3 6.1.0-56-amd64/integrity/003-crash',
      "not ok 4 6.1.0-56-amd64/integrity/004-hang # TIMEOUT 'ih-io read' did not answer within 60s",
      'not ok 5 6.1.0-56-amd64/integrity/005-error # ERROR QEMU exited while the harness was talking to the guest',
      'not ok 6 6.1.0-56-amd64/integrity/006-flaky',
      'ok 7 4.13/integrity/001-pass # SKIP --kernel 4.13: comes from the kernel.org tarball; pass --kernel tree:/path or a bzImage',
    ]);
  });

  it('puts diagnostics (disagreements, signature, flakiness) just before the result they explain', () => {
    const lines = ktap.split('\n');
    const fail = lines.indexOf('not ok 2 6.1.0-56-amd64/integrity/002-fail');
    expect(lines[fail - 1]).toBe('# console: cells/6.1.0-56-amd64__integrity_002-fail/console.log');
    expect(lines.slice(fail - 5, fail - 1)).toEqual([
      '# 2 disagreement(s) with the model; first: step 5 silent-acceptance block 700',
      '# signature: integrity/002-fail: silent-acceptance',
      '# step 5 silent-acceptance block 700 (sector 700): expected EILSEQ, found read succeeded',
      '# step 6 data-mismatch block 3 (sector 3): expected pattern block 3, found <zeros>',
    ]);
    expect(ktap).toContain('# flaky: rep 1 try 1 pass, rep 2 try 1 crash\n');
  });

  it("is read by the kernel's own KTAP parser as 7 tests: 1 passed, 5 failed, 1 skipped", async () => {
    await needs(testRequirement('linux-source-6.1'));
    await needs(testRequirement('python3'));
    const parser = await kunitParserDir();
    const file = join(dir, 'ktap.txt');
    await writeFile(file, ktap);
    const r = await parseWithKunit(parser!, file);
    expect(r.errors).toBe(0);
    expect(r.status).toBe('FAILURE');
    expect(r.tests.map((t) => t[1])).toEqual(['SUCCESS', 'FAILURE', 'FAILURE', 'FAILURE', 'FAILURE', 'FAILURE', 'SKIPPED']);
    expect(r.tests[6]![0]).toBe('4.13/integrity/001-pass');
  }, 180_000);
});
