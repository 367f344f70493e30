/**
 * The gate for real: linux-source-6.1 built by the harness (cached builds, content-keyed under
 * $IH_CACHE_DIR/build) as base, the same source with the seed regression patch as candidate. The gate exits 1
 * and lists crypt/001 as a regression with its oops signature; the same kernel on both sides exits 0.
 * The regression run also writes KCIDB data (--kcidb), which must validate against KernelCI's schema, and
 * its mail report (npm run report) must show the real oops trimmed within 80 columns: no extra boots.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import { composeEmail } from '../report/email/compose.ts';
import { loadReportInput } from '../report/input.ts';
import { kcidbErrors } from '../report/kcidb/schema-check.ts';
import type { Summary } from '../results.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-gate-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function gate(args: string[], results: string) {
  const r = await execa('node', ['--import', 'tsx', join(repoRoot(), 'harness/cli/gate.ts'), ...args, '--jobs', '1', '--results', results],
    { cwd: repoRoot(), reject: false, all: true });
  const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
  return { r, s, dir: join(results, 'latest') };
}

describe('npm run gate on linux-source-6.1', () => {
  it('exits 1 on the reintroduced 4.13 bug and lists the regression first, with its signature', { timeout: 3_600_000 }, async () => {
    const patch = join(repoRoot(), 'scenarios/regressions/4.13-bio-integrity-endio.patch');
    const { r, s, dir } = await gate(['--base', 'src:6.1', '--candidate', 'src:6.1', '--patch', patch, '--scenario', 'crypt/001*',
      '--compat-stack', 'compat/integrity-*', '--kcidb', join(root, 'regression.kcidb.json')], join(root, 'regression'));
    expect(s.kernels.map((k) => k.status), r.all).toEqual(['ok', 'ok']);
    expect(s.gate, r.all).toMatchObject({ base: { spec: 'src:6.1' }, candidate: { spec: `src:6.1 --patch ${patch}` }, regressions: 1, unjudged: 0 });
    const cand = s.cells.find((c) => c.gate?.role === 'candidate')!;
    expect(cand).toMatchObject({ scenario: 'crypt/001-gcm-read-after-write', verdict: 'crash', gate: { base: 'pass', change: 'regression' } });
    expect(cand.bootMs).toBeGreaterThan(0);
    expect(cand.signature).toBe('BUG: kernel NULL pointer dereference @ bio_integrity_process');
    // dm-integrity alone is not touched by the patch: its format reads across in both directions
    const compat = s.cells.filter((c) => c.gate?.role === 'compat');
    expect(compat.map((c) => [c.kernel, c.verdict]).sort(), r.all).toEqual([['base→candidate', 'pass'], ['candidate→base', 'pass']]);
    expect(r.exitCode, r.all).toBe(1);
    expect(s.exitCode).toBe(1);
    const tailText = r.stdout.slice(r.stdout.lastIndexOf('REGRESSIONS'));
    expect(tailText).toMatch(/^REGRESSIONS \(1\):\n {2}crypt\/001-gcm-read-after-write {2}base pass -> candidate crash {2}-- BUG: kernel NULL pointer dereference @ bio_integrity_process\n/);
    const junit = readFileSync(join(dir, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase classname="gate" name="crypt\/001-gcm-read-after-write"[^]*?name="base.verdict" value="pass"[^]*?name="candidate.verdict" value="crash"[^]*?<failure type="regression"/);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('class="v-crash regression"');

    // KCIDB: valid against kcidb-io's exported schema; the crash is a FAIL with the verdict in misc, on the
    // candidate's build, whose checkout carries the patch and whose build the kept .config and build log
    const kcidb = JSON.parse(readFileSync(join(root, 'regression.kcidb.json'), 'utf8'));
    expect(kcidbErrors(kcidb)).toEqual([]);
    const crashed = kcidb.tests.find((t: { misc: { verdict: string } }) => t.misc.verdict === 'crash');
    expect(crashed).toMatchObject({ status: 'FAIL', path: 'integrity_harness.crypt.001-gcm-read-after-write' });
    expect(crashed.log_excerpt).toMatch(/bio_integrity_process\+0x/);
    const candKernel = s.kernels.find((k) => k.spec !== 'src:6.1')!;
    expect(crashed.build_id).toBe(`integrity_harness:${s.runId}/${candKernel.label}`);
    const candBuild = kcidb.builds.find((b: { id: string }) => b.id === crashed.build_id);
    expect(candBuild).toMatchObject({ status: 'PASS', config_url: expect.stringMatching(/^file:\/\/.*\.config$/), log_url: expect.stringMatching(/\.build\.log$/) });
    expect(kcidb.checkouts.find((c: { id: string }) => c.id === candBuild.checkout_id).patchset_files).toEqual([
      { name: '0001-4.13-bio-integrity-endio.patch', url: expect.stringMatching(/^file:\/\//) }]);

    // the mail: the real oops, trimmed, every line within 80 columns
    const mail = await composeEmail(await loadReportInput(dir));
    expect(mail.split('\n').filter((l) => l.length > 80)).toEqual([]);
    expect(mail).toMatch(/^Subject: \[integrity-harness\] gate regression: BUG: kernel NULL pointer/);
    expect(mail).toContain('crypt/001-gcm-read-after-write on ');
    expect(mail).toMatch(/^ {2}Call Trace:$/m);
    // the faulting function, as RIP or as the first reliable frame of the trace
    expect(mail).toMatch(/^ {2}(RIP: \d{4}:| {1,2})bio_integrity_process\+0x[0-9a-f]+\/0x[0-9a-f]+/m);
    expect(mail).not.toMatch(/^ {2}\[\s*\d+\.\d+\]/m);

    // re-judged by the current model (npm run rejudge): the executions it judges replay the same, the crash is
    // the console's and stays, the gate's comparison is composed again and still exits 1
    const rj = await execa('node', ['--import', 'tsx', join(repoRoot(), 'harness/cli/rejudge.ts'), dir], { cwd: repoRoot(), reject: false, all: true });
    expect(rj.stdout, rj.all).toMatch(/^4 cell\(s\): 3 judged the same, 0 changed, 1 with executions not replayed; gate: 1 regression\(s\), 0 unjudged; exit 1$/m);
    expect(rj.stdout).toMatch(/^KEPT {5}.*crypt\/001-gcm-read-after-write .*: crash: a crash is not the model's to judge: kept$/m);
    expect(rj.exitCode).toBe(1);
  });

  it('exits 0 with the same kernel as base and candidate: both sides run, nothing regresses', { timeout: 3_600_000 }, async () => {
    const { r, s } = await gate(['--base', 'src:6.1', '--candidate', 'src:6.1', '--scenario', 'crypt/001*', '--no-compat'], join(root, 'same'));
    expect(s.cells.map((c) => [c.kernel.replace(/^[^@]*/, ''), c.verdict]), r.all).toEqual([['@base', 'pass'], ['@candidate', 'pass']]);
    // Both sides ran in a real guest (with one bzImage on both sides they may share one booted guest).
    expect(s.cells.every((c) => c.kernelRelease !== undefined && c.kernelRelease !== '')).toBe(true);
    expect(s.cells.some((c) => (c.bootMs ?? 0) > 0)).toBe(true);
    expect(s.gate).toMatchObject({ regressions: 0, unjudged: 0, compared: 1 });
    expect(r.exitCode, r.all).toBe(0);
  });
});
