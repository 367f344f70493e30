/**
 * Injected faults (run level): a requested kernel that was not tested must never let the run exit 0. Each
 * fault is real: a version apt has no package for, a patch that does not apply to the tree, a module file
 * missing from the guest's initramfs while init still loads it. Each run asserts the exit code (125), that
 * the end of the run names the kernel in one line, and summary.json's `untested`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { buildGuestImage } from '../../vm/image/initramfs.ts';
import { parseMatrixArgs } from '../config.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, planRecord } from '../plan.ts';
import { formatEnd } from '../reporters/line.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults, type Summary } from '../results.ts';
import { isReady, type ReadyKernel } from '../run/kernels.ts';
import { prepareMatrix, runMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-faults-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function matrix(args: string[], results: string) {
  return execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--results', results, ...args], { cwd: repoRoot(), reject: false });
}

const summaryOf = (results: string): Summary => JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;

/** stdout lines that name `kernel` as a word (6.1 is not 6.13). */
const naming = (out: string, kernel: string) => out.split('\n').filter((l) => new RegExp(`(^|[\\s/(])${kernel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s/):,]|$)`).test(l));

describe('injected faults: a requested kernel that was not tested', () => {
  it('a typo kernel (6.13) next to a good one (6.1): exit 125, 6.13 named once at the end, no cell line for it', async () => {
    const results = join(root, 'typo');
    const r = await matrix(['--kernel', '6.1', '--kernel', '6.13', '--scenario', 'integrity/001*'], results);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(125);
    const s = summaryOf(results);
    expect(s.cells.filter((c) => c.kernelSpec === '6.1').map((c) => c.verdict)).toEqual(['pass']);
    expect(s.untested).toEqual([{ kernel: '6.13', reason: expect.stringContaining('could not be had: --kernel 6.13: no Debian package linux-image-6.13') }]);
    expect(s.exitCode).toBe(125);
    // the begin line lists the kernels asked for; after it, one line names 6.13: the end's
    const lines = naming(r.stdout, '6.13').filter((l) => !l.startsWith('integrity-harness: '));
    expect(lines).toEqual([expect.stringMatching(/^NOT TESTED kernel 6\.13: could not be had: /)]);
  }, 900_000);

  it('a patch that does not apply (src:6.1 and src:6.1 --patch bad.patch): exit 125, the patched kernel named as not built', async () => {
    const results = join(root, 'patch');
    const bad = join(root, 'bad.patch');
    writeFileSync(bad, [
      '--- a/drivers/md/dm-integrity.c', '+++ b/drivers/md/dm-integrity.c', '@@ -1,3 +1,3 @@',
      '-this line is not in dm-integrity.c', '+nor is this one', ' and this context is invented', ' as is this', '',
    ].join('\n'));
    const r = await matrix(['--kernel', 'src:6.1', '--kernel', 'src:6.1', '--patch', bad, '--scenario', 'integrity/001*'], results);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(125);
    const s = summaryOf(results);
    expect(s.kernels.map((k) => k.status)).toEqual(['ok', 'build-failed']);
    expect(s.cells.filter((c) => c.kernelSpec === 'src:6.1').map((c) => c.verdict)).toEqual(['pass']);
    expect(s.untested).toHaveLength(1);
    expect(s.untested![0]!.kernel).toMatch(/^src:6\.1 .*bad\.patch/);
    expect(s.untested![0]!.reason).toMatch(/^did not build: .*bad\.patch/);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('NOT TESTED kernel '))).toHaveLength(1);
  }, 1_800_000);

  it('dm_integrity.ko missing from the initramfs of the Debian 6.1 kernel: its cells are untested (error), one guest boots, exit 125', async () => {
    const results = join(root, 'module');
    const cfg = parseMatrixArgs(['--kernel', '6.1', '--scenario', 'integrity/001*', '--scenario', 'crypt/001*', '--results', results, '--share-guest', '16', '--jobs', '1']);
    const { scenarios, slowNotRun } = await discoverScenarios(cfg.scenariosDir, cfg.scenarioGlobs, { slow: cfg.slow });
    const plan = planMatrix(cfg.kernels, scenarios, { repeat: 1, retries: 1, slowNotRun });
    const run = await RunResults.create(results, ['faults', 'omit dm_integrity'], { plan: planRecord(plan) });
    const prepared = await prepareMatrix(cfg, plan, run, () => undefined);
    const k = prepared.kernels.get('6.1')!;
    expect(isReady(k)).toBe(true);
    const ready = k as ReadyKernel;
    expect(ready.image.modules).toContain('dm_integrity');
    const tools = await buildGuestTools(cacheDir());
    ready.image = await buildGuestImage(ready.kernel, tools, { omitModules: ['dm_integrity'] });
    await runMatrix(cfg, plan, run, new Reporters([]), () => undefined, undefined, prepared);
    const code = await finishRun(run, 'complete');
    expect(code).toBe(125);
    const s = run.summary;
    expect(s.cells.map((c) => c.verdict)).toEqual(['error', 'error']);
    // init's modprobe (busybox's or kmod's) says the module is not found, in its own words
    for (const c of s.cells) expect(c.reason).toMatch(/^kernel not tested: the guest could not load module\(s\) the stacks need .*dm_integrity: modprobe: .*dm_integrity.*not found/i);
    // the second cell never booted a guest of its own, and no error was retried
    expect(s.cells.filter((c) => c.dir === '')).toHaveLength(1);
    expect(s.untested).toEqual([{ kernel: '6.1', label: ready.kernel.label, reason: expect.stringMatching(/^the guest could not load module\(s\) .*dm_integrity/) }]);
    const end = formatEnd(s, run.dir).split('\n').filter((l) => l.includes('NOT TESTED'));
    expect(end).toEqual([expect.stringMatching(/^NOT TESTED kernel 6\.1 \(6\.1\.\S+\): the guest could not load module\(s\)/)]);
  }, 900_000);
});
