// Builds Debian's linux-source-6.1 with the harness's Kconfig (a cache hit after the first run, ~3 min
// before it) and runs the first integrity scenario on it through the matrix, as `npm run matrix` does.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from '../config.ts';
import { BUILD_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { Reporters } from '../reporters/reporter.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { RunResults } from '../results.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import { runMatrix } from './matrix.ts';

const SEED = fileURLToPath(new URL('../../scenarios/regressions/4.13-bio-integrity-endio.patch', import.meta.url));

async function runOn(kernelArgs: string[]) {
  const resultsRoot = mkdtempSync(join(tmpdir(), 'ih-src-guest-'));
  const cfg = parseMatrixArgs([...kernelArgs, '--scenario', 'integrity/001-*', '--jobs', '1', '--results', resultsRoot]);
  const lines: string[] = [];
  const log = (s: string) => {
    lines.push(s);
    process.stderr.write(`${s}\n`);
  };
  await preflight({ log, requirements: [...REQUIREMENTS, ...BUILD_REQUIREMENTS] });
  const { scenarios } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
  expect(scenarios.map((s) => s.id)).toEqual(['integrity/001-crc32c-journal-corrupt']);
  const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries });
  const results = await RunResults.create(cfg.resultsDir, ['source-kernel.guest.test'], { plan: planRecord(plan) });
  await runMatrix(cfg, plan, results, new Reporters([]), log);
  const code = await finishRun(results, 'complete');
  return { results, code, lines };
}

describe('a kernel built from linux-source-6.1', () => {
  it('builds with every required option and passes integrity/001 in a guest', { timeout: 1_800_000 }, async () => {
    const { results, code, lines } = await runOn(['--kernel', 'src:6.1']);

    const [kernel] = results.summary.kernels;
    expect(kernel, lines.join('\n')).toMatchObject({ spec: 'src:6.1', status: 'ok', missingOptions: [] });
    expect(kernel!.source).toContain('linux-source-6.1');
    expect(existsSync(join(results.dir, kernel!.buildLog!))).toBe(true);
    expect(readFileSync(join(results.dir, kernel!.buildLog!), 'utf8')).toMatch(/integrity-harness kernel build/);

    const [cell] = results.summary.cells;
    // It booted the kernel we built, not some other one: the guest's uname -r is that kernel's release.
    expect(cell, JSON.stringify(cell)).toMatchObject({ verdict: 'pass', kernelRelease: kernel!.release });
    expect(cell!.bootMs).toBeGreaterThan(0);
    expect(code).toBe(0);
  });

  // The seed only breaks reads through dm-crypt AEAD on dm-integrity; plain dm-integrity must still pass.
  it('with the 4.13 regression seed patch, rebuilds from the unpatched objects and still passes integrity/001', { timeout: 1_800_000 }, async () => {
    const { results, code, lines } = await runOn(['--kernel', 'src:6.1', '--patch', SEED]);
    const [kernel] = results.summary.kernels;
    expect(kernel, lines.join('\n')).toMatchObject({ status: 'ok', label: `${kernel!.release}+4.13-bio-integrity-endio` });
    expect(kernel!.source).toContain('+ patches 4.13-bio-integrity-endio.patch');
    const buildLog = readFileSync(join(results.dir, kernel!.buildLog!), 'utf8');
    expect(buildLog).toMatch(/# reusing objects of .*ih-out-/);
    expect(results.summary.cells[0]).toMatchObject({ verdict: 'pass', kernelRelease: kernel!.release });
    expect(code).toBe(0);
  });
});

// Kernels the harness builds boot as a PVH vmlinux; a tree or configuration without CONFIG_PVH is built as a
// bzImage instead (vm/kernel/build-target.ts). Opt-in (IH_SLOW_TESTS=1): another configuration changes
// autoconf.h, so every object misses ccache (~7-8 min here).
describe.skipIf(process.env.IH_SLOW_TESTS !== '1')('a linux-source-6.1 kernel configured without CONFIG_PVH', () => {
  it('is built as a bzImage, booted, and passes integrity/001', { timeout: 3_600_000 }, async () => {
    const fragment = join(mkdtempSync(join(tmpdir(), 'ih-no-pvh-')), 'no-pvh.config');
    writeFileSync(fragment, '# CONFIG_PVH is not set\n');
    const { results, code, lines } = await runOn(['--kernel', 'src:6.1', '--kconfig', fragment]);
    const [kernel] = results.summary.kernels;
    expect(kernel, lines.join('\n')).toMatchObject({ status: 'ok', missingOptions: [] });
    expect(kernel!.bootImage).toMatch(/\/bzImage$/);
    const buildLog = readFileSync(join(results.dir, kernel!.buildLog!), 'utf8');
    expect(buildLog).toMatch(/^# boot image: bzImage \(no CONFIG_PVH=y/m);
    expect(buildLog).toMatch(/^\$ make .* bzImage {3}\(in /m);
    expect(results.summary.cells[0]).toMatchObject({ verdict: 'pass', kernelRelease: kernel!.release });
    expect(code).toBe(0);
  });
});
