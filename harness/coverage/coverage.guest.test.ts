// --coverage end to end (a gcov kernel is a build of its own: every object misses ccache the first time, 660 s
// of CPU, 12 min wall on the shared 2-core machine; then 37 s): linux-source-6.1 built with gcov counters for the integrity path,
// two scenarios in one shared guest, then one in a guest of its own. Each scenario's coverage must show the
// functions it calls and not those it does not, which also proves the counters are reset between scenarios.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from '../config.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { BUILD_REQUIREMENTS, COVERAGE_REQUIREMENTS, preflight, REQUIREMENTS } from '../preflight.ts';
import { HtmlReporter } from '../reporters/html.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults } from '../results.ts';
import { runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import { parseTracefile, type Tracefile } from './tracefile.ts';

async function run(args: string[]) {
  const resultsRoot = mkdtempSync(join(tmpdir(), 'ih-coverage-guest-'));
  const cfg = parseMatrixArgs(['--kernel', 'src:6.1', '--coverage', '--jobs', '1', '--results', resultsRoot, ...args]);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  await preflight({ log, requirements: [...REQUIREMENTS, ...BUILD_REQUIREMENTS, ...COVERAGE_REQUIREMENTS] });
  const { scenarios } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
  const plan = planMatrix(cfg.kernels, scenarios, { repeat: cfg.repeat, retries: cfg.retries });
  const results = await RunResults.create(cfg.resultsDir, ['coverage.guest.test', ...args], { plan: planRecord(plan) });
  await runMatrix(cfg, plan, results, new Reporters([]), log);
  const code = await finishRun(results, 'complete');
  await new Reporters([new HtmlReporter()]).emit('onEnd', results.summary, results.dir);
  return { results, code };
}

/** The entry count of `fn` in the file ending in `file` of a scenario's tracefile. */
function entries(t: Tracefile, file: string, fn: string): number {
  const f = [...t].find(([name]) => name.endsWith(file))?.[1];
  const x = f?.functions.get(fn);
  if (x === undefined) throw new Error(`${fn} is not among the functions of ${file} in the tracefile`);
  return x.count;
}

function scenarioTrace(dir: string, s: { coverage?: { kernels: Array<{ scenarios: Array<{ scenario: string; info?: string; missing?: string }> }> } }, id: string): Tracefile {
  const entry = s.coverage!.kernels[0]!.scenarios.find((x) => x.scenario === id);
  expect(entry?.info, JSON.stringify(entry)).toBeDefined();
  return parseTracefile(readFileSync(join(dir, entry!.info!), 'utf8'));
}

describe('--coverage on linux-source-6.1', () => {
  it('a shared guest: each scenario reaches what it calls and nothing of what only the other calls', { timeout: 3_600_000 }, async () => {
    const { results, code } = await run(['--scenario', 'integrity/001-*', '--scenario', 'crypt/001-*']);
    const s = results.summary;
    expect(s.cells.map((c) => c.verdict), JSON.stringify(s.cells)).toEqual(['pass', 'pass']);
    expect(code).toBe(0);
    expect(s.cells[0]!.guest).toBeDefined();
    expect(s.cells[0]!.guest).toBe(s.cells[1]!.guest);
    const [kernel] = s.kernels;
    expect(kernel!.label).toMatch(/\+gcov$/);
    expect(kernel!.coverage!.objects).toEqual(expect.arrayContaining(['drivers/md/dm-integrity.o', 'drivers/md/dm-crypt.o', 'block/bio-integrity.o']));

    const integrity = scenarioTrace(results.dir, s, 'integrity/001-crc32c-journal-corrupt');
    expect(entries(integrity, 'drivers/md/dm-integrity.c', 'dm_integrity_map')).toBeGreaterThan(0);
    expect(entries(integrity, 'drivers/md/dm-crypt.c', 'crypt_map')).toBe(0);
    expect(entries(integrity, 'drivers/md/dm-log-writes.c', 'log_writes_map')).toBe(0);

    const crypt = scenarioTrace(results.dir, s, 'crypt/001-gcm-read-after-write');
    expect(entries(crypt, 'drivers/md/dm-crypt.c', 'crypt_map')).toBeGreaterThan(0);
    expect(entries(crypt, 'drivers/md/dm-integrity.c', 'dm_integrity_map')).toBeGreaterThan(0);
    expect(entries(crypt, 'drivers/md/dm-log-writes.c', 'log_writes_map')).toBe(0);

    const files = s.coverage!.kernels[0]!.files;
    const dmIntegrity = files.find((f) => f.file.endsWith('drivers/md/dm-integrity.c'));
    expect(dmIntegrity!.lines.hit).toBeGreaterThan(0);
    expect(dmIntegrity!.lines.hit).toBeLessThan(dmIntegrity!.lines.found);
    expect(existsSync(join(results.dir, s.coverage!.lcov!))).toBe(true);
    expect(existsSync(join(results.dir, s.coverage!.html!))).toBe(true);
    const report = readFileSync(join(results.dir, 'report.html'), 'utf8');
    expect(report).toContain('<h2>Coverage</h2>');
    expect(report).toContain(`href="${s.coverage!.html!}"`);
  });

  it('a guest of its own (--share-guest 1) records its scenario too', { timeout: 1_800_000 }, async () => {
    const { results } = await run(['--scenario', 'integrity/001-*', '--share-guest', '1']);
    expect(results.summary.cells[0]!.verdict).toBe('pass');
    const integrity = scenarioTrace(results.dir, results.summary, 'integrity/001-crc32c-journal-corrupt');
    expect(entries(integrity, 'drivers/md/dm-integrity.c', 'dm_integrity_map')).toBeGreaterThan(0);
    expect(entries(integrity, 'drivers/md/dm-crypt.c', 'crypt_map')).toBe(0);
  });
});
