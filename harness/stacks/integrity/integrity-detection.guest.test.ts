/**
 * Proves that a passing integrity cell means the kernel really detected the corruption: scenario 001 runs on
 * Debian 6.1 once with the corruption offsets shifted by one block (the model then predicts the wrong blocks)
 * and must be `fail`, and once with the model's offsets and must be `pass`, with exactly the corrupted
 * blocks failing with EILSEQ in the guest. Boots real QEMU guests: minutes under TCG.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../../vm/agent/build.ts';
import { cacheDir, repoRoot } from '../../../vm/cache.ts';
import { buildGuestImage, type GuestImage } from '../../../vm/image/initramfs.ts';
import { provideKernel } from '../../../vm/kernel/provider.ts';
import { parseKernelSpec } from '../../../vm/kernel/spec.ts';
import type { ResolvedKernel } from '../../../vm/kernel/types.ts';
import { corruptionTarget } from '../../model/integrity/corrupt.ts';
import { EILSEQ } from '../../model/integrity/device.ts';
import { loadScenario, type Scenario } from '../../scenario/load.ts';
import type { CellHooks } from '../../run/session/cell.ts';
import { runCell } from '../../run/run-cell.ts';

const SCENARIO = 'integrity/001-crc32c-journal-corrupt';
const CORRUPTED = [3, 700, 1024, 4095];

let kernel: ResolvedKernel;
let image: GuestImage;
let scenario: Scenario;
const dirs: string[] = [];

beforeAll(async () => {
  kernel = await provideKernel(parseKernelSpec('6.1'));
  const tools = await buildGuestTools(cacheDir());
  image = await buildGuestImage(kernel, { agent: tools.agent, io: tools.io });
  const scenarios = join(repoRoot(), 'scenarios');
  scenario = await loadScenario(join(scenarios, `${SCENARIO}.yaml`), scenarios);
  expect(scenario.steps).toContainEqual({ corrupt: { blocks: CORRUPTED, where: 'data', byte: 0 } });
}, 600_000);

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(hooks?: CellHooks) {
  const dir = mkdtempSync(join(tmpdir(), 'ih-detect-'));
  dirs.push(dir);
  return runCell({
    id: `${kernel.label}/${SCENARIO}`, dir, scenario, kernel, image, accel: 'tcg',
    bootTimeoutMs: 180_000, memoryMb: 768, cpus: 1, keepDisks: false, ...(hooks ? { hooks } : {}),
  });
}

describe(`${SCENARIO} on Debian 6.1`, () => {
  it('is `fail` when the model is told the wrong corruption offsets', async () => {
    // off by one block: the host corrupts block b+1 while the model believes it corrupted block b
    const r = await run({ corruptionTarget: (geom, block, where, byte) => corruptionTarget(geom, block + 1, where, byte) });
    expect(r.kernelRelease, 'the guest never booted').toMatch(/^6\.1\./);
    expect(r.verdict, r.reason).toBe('fail');
    const kinds = (k: string) => new Set(r.disagreements.filter((d) => d.kind === k).map((d) => d.block));
    const readBlocks = 2048 * 1024 / 512; // the scenario reads the first 2 MiB of 512-byte blocks
    for (const b of CORRUPTED) {
      expect(kinds('silent-acceptance'), `block ${b}`).toContain(b);
      // the block really corrupted fails its read, unless it lies beyond what the scenario reads: then only the audit sees it
      if (b + 1 < readBlocks) expect(kinds('false-alarm'), `block ${b + 1}`).toContain(b + 1);
      expect(kinds('audit-unexpected-valid'), `audit of block ${b}`).toContain(b);
      expect(kinds('audit-tag-mismatch'), `audit of block ${b + 1}`).toContain(b + 1);
    }
  }, 300_000);

  it('is `pass` with the model\'s offsets, and the guest really failed exactly the corrupted blocks', async () => {
    const r = await run();
    expect(r.kernelRelease, 'the guest never booted').toMatch(/^6\.1\./);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.disagreements).toEqual([]);
    const corruptStep = scenario.steps.findIndex((s) => typeof s === 'object' && 'corrupt' in s);
    const readsAfter = r.steps.filter((s) => s.kind === 'read' && s.index > corruptStep);
    expect(readsAfter.length).toBe(2);
    for (const s of readsAfter) {
      const failed = s.failedBlocks ?? [];
      expect([...new Set(failed.map((f) => f.block))].sort((a, b) => a - b), `step ${s.index}`).toEqual(CORRUPTED);
      expect(failed.every((f) => f.errno === EILSEQ), `step ${s.index} errnos`).toBe(true);
    }
    const before = r.steps.filter((s) => s.kind === 'read' && s.index < corruptStep);
    expect(before.flatMap((s) => s.failedBlocks ?? [])).toEqual([]);
    const status = r.steps.find((s) => s.kind === 'status');
    expect(status?.note).toMatch(/^mismatches 12 \(model 12\)/);
  }, 300_000);
});
