/**
 * The reason this project exists, proven end to end in CI: linux-source-6.1 built by the harness passes
 * the seed scenario (the first O_DIRECT read through dm-crypt AEAD on dm-integrity), and the same source
 * with 4.13-bio-integrity-endio.patch (the 4.13-rc bug class reintroduced) crashes in kintegrityd's path.
 * The run's exit code is what `git bisect run` and a CI gate read: 1. The patched kernel's published
 * vmlinux, handed back in as `--kernel <path>`, boots through PVH and crashes the same way.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import type { Summary } from '../../harness/results.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-seed-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the 4.13 bio-integrity endio regression, reintroduced on 6.1', () => {
  it('passes on the clean source and crashes with the patch; the run exits 1', { timeout: 3_600_000 }, async () => {
    const patch = join(repoRoot(), 'scenarios/regressions/4.13-bio-integrity-endio.patch');
    const r = await execa('node', [
      '--import', 'tsx', join(repoRoot(), 'harness/cli/matrix.ts'),
      '--kernel', 'src:6.1', '--kernel', 'src:6.1', '--patch', patch,
      '--scenario', 'crypt/001-*', '--jobs', '1', '--results', root,
    ], { cwd: repoRoot(), reject: false, all: true });
    const s = JSON.parse(readFileSync(join(root, 'latest', 'summary.json'), 'utf8')) as Summary;
    expect(s.kernels.map((k) => k.status), r.all).toEqual(['ok', 'ok']);
    expect(s.kernels[0]!.source).not.toEqual(s.kernels[1]!.source);
    const [clean, patched] = s.cells;
    expect(clean, r.all).toMatchObject({ scenario: 'crypt/001-gcm-read-after-write', verdict: 'pass' });
    expect(patched, r.all).toMatchObject({ scenario: 'crypt/001-gcm-read-after-write', verdict: 'crash' });
    // Booted, then oopsed: not a boot failure and not an infrastructure error.
    expect(patched!.bootMs).toBeGreaterThan(0);
    expect(patched!.signature).toBe('BUG: kernel NULL pointer dereference @ bio_integrity_process');
    const console = readFileSync(join(root, 'latest', patched!.dir, 'console.log'), 'utf8');
    expect(console).toMatch(/bio_integrity/);
    expect(r.exitCode).toBe(1);

    // The patched kernel as a user hands in a tree's own build: `--kernel <path to its vmlinux>` (PVH boot)
    const vmlinux = s.kernels[1]!.bootImage!;
    expect(vmlinux).toMatch(/\/vmlinux$/);
    const again = join(root, 'by-path');
    const r2 = await execa('node', [
      '--import', 'tsx', join(repoRoot(), 'harness/cli/matrix.ts'),
      '--kernel', vmlinux, '--scenario', 'crypt/001-*', '--jobs', '1', '--results', again,
    ], { cwd: repoRoot(), reject: false, all: true });
    const s2 = JSON.parse(readFileSync(join(again, 'latest', 'summary.json'), 'utf8')) as Summary;
    expect(s2.kernels[0], r2.all).toMatchObject({ status: 'ok', release: s.kernels[1]!.release, bootImage: vmlinux });
    expect(s2.cells[0], r2.all).toMatchObject({ verdict: 'crash', signature: patched!.signature });
    expect(r2.exitCode).toBe(1);
  });
});
