/**
 * Proves that the flush step's reach judgement can fail on a real kernel: scenario 059 runs on Debian 6.1 with
 * its dm-delay lower device mapping every flush to a dm-error device instead of the data disk. dm-error takes
 * no flush bios, so the flush succeeds and reaches no disk: what 9b5948267adc fixed for a metadata device's
 * stack (acknowledged writes left in the data disk's volatile cache). The cell must be `fail` with the
 * bitmap-mode flush named, and only it: the journal-mode flush, which the model does not require to reach the
 * disk there, is not. The scenario passing as it is is the matrix's check. Boots a real QEMU guest: about a
 * minute under TCG.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../scenario/load.ts';
import { runCell } from '../../run/run-cell.ts';
import { prepareGuestKernel, scenarioFile, type GuestKernel } from '../../test/guest-fixture.ts';

const SCENARIO = 'integrity/059-delay-lower-journal-bitmap';

let gk: GuestKernel;
let scenario: Scenario;
const dirs: string[] = [];

beforeAll(async () => {
  gk = await prepareGuestKernel('6.1');
  scenario = await scenarioFile(SCENARIO);
}, 600_000);

afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe(`${SCENARIO} on Debian 6.1`, () => {
  it('is `fail` naming the bitmap-mode flush when the lower device keeps flushes from the data disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ih-flush-reach-'));
    dirs.push(dir);
    const r = await runCell({
      id: `${gk.kernel.label}/${SCENARIO}`, dir, scenario, kernel: gk.kernel, image: gk.image, accel: 'tcg',
      bootTimeoutMs: 180_000, memoryMb: 768, cpus: 1, keepDisks: false, hooks: {
        beforeStack: ['sh', '-c', 'dmsetup create ih-sink --table "0 2097152 error" && dmsetup mknodes ih-sink'],
        delayFlushesTo: '/dev/mapper/ih-sink',
      },
    });
    expect(r.kernelRelease, 'the guest never booted').toMatch(/^6\.1\./);
    expect(r.verdict, r.reason).toBe('fail');
    const flushes = scenario.steps.flatMap((s, i) => (s === 'flush' ? [i] : []));
    const bitmapFlush = flushes.find((i) => scenario.steps.slice(0, i).some((s) => typeof s === 'object' && 'open' in s && s.open.mode === 'bitmap'));
    expect(bitmapFlush, 'the scenario has a flush in bitmap mode').toBeDefined();
    expect(r.disagreements).toEqual([expect.objectContaining({ step: bitmapFlush, kind: 'flush-reach', expected: expect.stringMatching(/^at least one flush on the data disk/) })]);
  }, 300_000);
});
