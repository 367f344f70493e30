/**
 * Real guests: the walking skeleton's cell on a Debian kernel, and the ways a guest can go wrong
 * (hung at boot, hung in a step, QEMU killed) each ending in the right verdict, with the console kept.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Guest, liveGuests } from '../../../vm/qemu/guest.ts';
import { prepareGuestKernel, scenarioFile, type GuestKernel } from '../../test/guest-fixture.ts';
import type { Scenario } from '../../scenario/load.ts';
import { GuestSession, type CellSpec } from './cell.ts';
import { StepHang } from '../../verdict/failures.ts';
import { runCell } from '../run-cell.ts';

let gk: GuestKernel;
let scenario: Scenario;
const root = mkdtempSync(join(tmpdir(), 'ih-cell-test-'));

beforeAll(async () => {
  gk = await prepareGuestKernel();
  scenario = await scenarioFile('integrity/001-crc32c-journal-corrupt');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function cellSpec(name: string, over: Partial<CellSpec> = {}): CellSpec {
  return {
    id: `test/${name}`, dir: join(root, name), scenario, kernel: gk.kernel, image: gk.image, accel: 'tcg',
    bootTimeoutMs: 90_000, memoryMb: 512, cpus: 1, keepDisks: false, ...over,
  };
}

describe('a cell on a real Debian kernel', () => {
  it('passes the corruption scenario, and the corrupted blocks really failed in the guest', async () => {
    const spec = cellSpec('pass');
    const r = await runCell(spec);
    expect(r.verdict, r.reason).toBe('pass');
    expect(r.kernelRelease).toBe(gk.kernel.release);
    expect(r.bootMs).toBeGreaterThan(0);
    const console = readFileSync(join(spec.dir, 'console.log'), 'utf8');
    // The kernel itself said so: block 3 of the scenario is logical sector 3 (512-byte blocks).
    expect(console).toMatch(/integrity: dm-\d+: Checksum failed at sector 0x3\b/);
    const status = r.steps.find((s) => s.kind === 'status')!;
    expect(status.note).toMatch(/^mismatches [1-9]\d* \(model /);
    expect(existsSync(join(spec.dir, 'disks')), 'disks of a passing cell are removed').toBe(false);
  }, 300_000);

  it('calls a guest that does not reach its agent in time a hang, ends QEMU and keeps the console', async () => {
    // Init is replaced by a sleep, so the agent never starts however fast the machine is (a short timeout
    // alone passed on a fast CI runner: the guest really did reach its agent in under 8 s).
    const spec = cellSpec('boot-hang', {
      bootTimeoutMs: 8_000, hooks: { cmdline: ['rdinit=/bin/busybox', '--', 'sleep', '3600'] },
    });
    const started = Date.now();
    const r = await runCell(spec);
    expect(r.verdict).toBe('hang');
    expect(r.reason).toMatch(/did not reach its agent within 8s/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(readFileSync(join(spec.dir, 'console.log'), 'utf8')).toMatch(/Linux version/);
    expect(liveGuests()).toHaveLength(0);
  }, 120_000);

  it('calls a QEMU killed from outside an error, not a kernel failure', async () => {
    const spec = cellSpec('killed');
    const running = runCell(spec);
    const deadline = Date.now() + 120_000;
    // Kill it once the scenario is under way (the first step marker is in the console).
    while (Date.now() < deadline) {
      const text = existsSync(join(spec.dir, 'console.log')) ? readFileSync(join(spec.dir, 'console.log'), 'utf8') : '';
      if (text.includes('ih: step 0 write')) break;
      await sleep(100);
    }
    const guest = liveGuests()[0];
    expect(guest, 'the cell started a guest').toBeDefined();
    process.kill(guest!.pid!, 'SIGKILL');
    const r = await running;
    expect(r.verdict).toBe('error');
    expect(r.reason).toMatch(/QEMU exited/);
  }, 300_000);
});

describe('a step that does not answer', () => {
  it('becomes StepHang within the step timeout', async () => {
    const guest = Guest.start({ kernel: gk.kernel.bootImage, initrd: gk.image.path, accel: 'tcg', memoryMb: 512, cpus: 1, consoleLog: join(root, 'step-hang.log'), disks: [] });
    try {
      await guest.waitReady(90_000);
      const session = new GuestSession(guest, 2_000, join(root, 'step-hang.jsonl'));
      await session.begin(0, 'read');
      const started = Date.now();
      await expect(session.run(['sleep', '60'])).rejects.toBeInstanceOf(StepHang);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(session.steps).toHaveLength(0);
      await session.end();
      expect(session.steps[0]!.commands[0]).toMatchObject({ argv: ['sleep', '60'], exitCode: null });
    } finally {
      await guest.kill();
    }
  }, 180_000);
});
