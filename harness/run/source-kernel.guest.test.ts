// Builds Debian's linux-source-6.1 with the harness's Kconfig (a cache hit after the first run, ~3 min
// before it) and runs the first integrity scenario on it through the matrix, as `npm run matrix` does.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from '../config.ts';
import { BUILD_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { Reporters } from '../reporters/reporter.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { RunResults } from '../results.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import { runMatrix } from './matrix.ts';

describe('a kernel built from linux-source-6.1', () => {
  it('builds with every required option and passes integrity/001 in a guest', { timeout: 1_800_000 }, async () => {
    const resultsRoot = mkdtempSync(join(tmpdir(), 'ih-src-guest-'));
    const cfg = parseMatrixArgs(['--kernel', 'src:6.1', '--scenario', 'integrity/001-*', '--jobs', '1', '--results', resultsRoot]);
    const lines: string[] = [];
    const log = (s: string) => {
      lines.push(s);
      process.stderr.write(`${s}\n`);
    };
    await preflight({ log, requirements: [...REQUIREMENTS, ...BUILD_REQUIREMENTS] });
    const scenarios = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs);
    expect(scenarios.map((s) => s.id)).toEqual(['integrity/001-crc32c-journal-corrupt']);
    const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries });
    const results = await RunResults.create(cfg.resultsDir, ['source-kernel.guest.test'], { plan: planRecord(plan) });
    await runMatrix(cfg, plan, results, new Reporters([]), log);
    const code = await finishRun(results, 'complete');

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
});
