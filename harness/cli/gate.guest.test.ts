/**
 * The gate for real: linux-source-6.1 built by the harness (cached builds, content-keyed under
 * $IH_CACHE_DIR/build) as base, the same source with the seed regression patch as candidate. The gate exits 1
 * and lists crypt/001 as a regression with its oops signature; the same kernel on both sides exits 0.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
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
      '--compat-stack', 'compat/integrity-*'], join(root, 'regression'));
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
