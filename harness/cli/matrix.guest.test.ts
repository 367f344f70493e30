/**
 * `npm run matrix` as a user runs it: a child process, its exit code, its results directory, its signals.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import type { Summary } from '../results.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-matrix-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function matrix(args: string[], results: string) {
  return execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--results', results, ...args], {
    cwd: repoRoot(), reject: false, all: true,
  });
}

const summaryOf = (results: string): Summary => JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;

async function qemuOf(marker: string): Promise<string[]> {
  const r = await execa('pgrep', ['-af', `qemu-system.*${marker}`], { reject: false });
  return r.stdout.split('\n').filter((l) => l.includes(marker));
}

describe('npm run matrix', () => {
  it('runs the default scenarios on the default kernel and exits 0 with a complete summary', async () => {
    const results = join(root, 'default');
    const r = await matrix(['--scenario', 'integrity/001-*'], results);
    expect(r.exitCode, r.all).toBe(0);
    const s = summaryOf(results);
    expect(s.status).toBe('complete');
    expect(s.kernels[0]).toMatchObject({ spec: '6.1', status: 'ok' });
    expect(s.kernels[0]!.source).toMatch(/^debian:linux-image-6\.1\./);
    expect(s.accelerator?.accel).toMatch(/^(tcg|kvm)$/);
    expect(s.cells.map((c) => c.verdict)).toEqual(['pass']);
    expect(r.all).toMatch(/^PASS .*integrity\/001-crc32c-journal-corrupt/m);
    // an explicit --scenario is the whole choice: nothing was left out for being slow
    expect(s.plan?.slowNotRun).toEqual({ scenarios: [], globs: [] });
    expect(r.all).not.toMatch(/slow scenario/);
  }, 600_000);

  it('exits 255 naming the option for a usage error, before any guest boots', async () => {
    const r = await matrix(['--jobs', '0'], join(root, 'usage'));
    expect(r.exitCode).toBe(255);
    expect(r.stderr).toMatch(/--jobs expects a positive integer, got '0'/);
    expect(existsSync(join(root, 'usage'))).toBe(false);
  }, 60_000);

  it('on SIGTERM to npm ends every QEMU it started and leaves an interrupted summary', async () => {
    const results = join(root, 'sigterm');
    // As a CI system stops a job: SIGTERM to the top process, npm, which passes it down through tsx.
    const child = execa('npm', ['run', '--silent', 'matrix', '--', '--results', results], { cwd: repoRoot(), reject: false, all: true });
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (await qemuOf(results)).length === 0) await sleep(200);
    expect(await qemuOf(results), 'a guest was running before the signal').not.toHaveLength(0);
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode ?? r.signal, r.all).not.toBe(0);
    await sleep(500);
    expect(await qemuOf(results)).toEqual([]);
    expect(summaryOf(results).status).toBe('interrupted');
    // without --scenario the matrix ran the default library: the slow scenarios are left out, and said so
    expect(summaryOf(results).plan?.slowNotRun?.globs).toEqual(expect.arrayContaining([
      'crash/*', 'integrity/053-profile-conflict-reload', 'crypt/017-gcm-race-suspend-reload', 'integrity/060-race-suspend-reload-journal',
      'crypt/018-gcm-unstable-buffer', 'integrity/061-unstable-buffer-journal', 'integrity/062-unstable-buffer-bitmap',
      'integrity/063-unstable-buffer-direct-512',
    ]));
    expect(r.all).toMatch(/SIGTERM: stopping [1-9]\d* guest\(s\)/);
  }, 600_000);
});
