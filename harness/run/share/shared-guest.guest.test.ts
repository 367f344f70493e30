/**
 * A real shared guest: three integrity scenarios, each on its own fresh disks, one after the other in one
 * booted Debian 6.1 guest. Each must pass as it does in a guest of its own, with one QEMU boot in all, and
 * each cell's console must be its own slice (its own markers, none of the others').
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Guest, liveGuests } from '../../../vm/qemu/guest.ts';
import { prepareGuestKernel, scenarioFile, type GuestKernel } from '../../test/guest-fixture.ts';
import type { CellSpec } from '../session/cell.ts';
import { runShared } from './share.ts';
import { DISK_BUDGET, guestKey, SharedGuest, slotDisks, type SharedSlotRun } from './shared-guest.ts';

const IDS = ['integrity/001-crc32c-journal-corrupt', 'integrity/003-hmac-direct-swap', 'integrity/005-allow-discards-corrupt'];
let gk: GuestKernel;
const root = mkdtempSync(join(tmpdir(), 'ih-shared-test-'));

beforeAll(async () => {
  gk = await prepareGuestKernel();
});
afterAll(() => { if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true }); });

describe('a shared guest on a real Debian kernel', () => {
  it('runs three integrity scenarios in one boot, each passing with its own console slice', async () => {
    const specs: CellSpec[] = [];
    for (const id of IDS) {
      specs.push({
        id: `test/${id}`, dir: join(root, id.replace('/', '_')), scenario: await scenarioFile(id), kernel: gk.kernel, image: gk.image,
        accel: 'tcg', bootTimeoutMs: 120_000, memoryMb: 768, cpus: 1, keepDisks: false,
      });
    }
    const start = vi.spyOn(Guest, 'start');
    const runs: Array<{ id: string; position: number; r: SharedSlotRun }> = [];
    await runShared<CellSpec, SharedSlotRun>(specs, { perGuest: 3, jobs: 1, budget: DISK_BUDGET, guestKey, weight: slotDisks }, {
      open: (batch) => SharedGuest.open(batch, join(root, 'guest')),
    }, {
      final: async (x, r, position) => {
        runs.push({ id: x.scenario.id, position, r });
        return false;
      },
    });
    expect(start).toHaveBeenCalledTimes(1);
    start.mockRestore();
    expect(liveGuests()).toHaveLength(0);
    expect(runs.map((x) => `${x.id}@${x.position}: ${x.r.verdict}`)).toEqual(IDS.map((id, i) => `${id}@${i}: pass`));
    for (const x of runs) expect(x.r.result.reason).toMatch(/steps agree with the model/);
    expect(runs[0]!.r.result.bootMs).toBeGreaterThan(0);
    expect(runs[1]!.r.result.bootMs).toBeUndefined();

    const whole = readFileSync(join(root, 'guest', 'console.log'), 'utf8');
    expect(whole.match(/Linux version/g)).toHaveLength(1);
    for (const [i, spec] of specs.entries()) {
      const slice = readFileSync(join(spec.dir, 'console.log'), 'utf8');
      expect(slice, 'the boot is in every slice').toMatch(/Linux version/);
      expect(slice).toContain(`ih: scenario ${i} ${IDS[i]} begin`);
      expect(slice).toContain(`ih: scenario ${i} ${IDS[i]} end`);
      for (const other of IDS.filter((o) => o !== IDS[i])) expect(slice).not.toContain(other);
      expect(slice.match(/ih: scenario /g)).toHaveLength(2);
      // each scenario really failed its corrupted reads in the guest, and its slice shows it
      expect(slice).toMatch(/Checksum failed at sector/);
    }
    const log = JSON.parse(readFileSync(join(root, 'guest', 'guest.json'), 'utf8')) as {
      ran: Array<{ leftovers?: string[] }>; lifecycle: Array<{ state: string }>;
    };
    expect(log.ran.map((r) => r.leftovers ?? [])).toEqual([[], [], []]);
    // one boot, three scenarios through the same worker, one power-off
    expect(log.lifecycle.map((l) => l.state)).toEqual(['booting', 'ready', 'running', 'ready', 'running', 'ready', 'running', 'ready', 'retiring', 'closed']);
    // dm's ratelimit: no scenario's first checksum line comes within 5 s of the previous scenario's last one
    // (the kernel's own clock), so each had a full burst for the lines it counts, as in a guest of its own
    const stamp = (line: string) => Number(/^\[\s*(\d+\.\d+)\]/.exec(line)?.[1]);
    const lines = whole.split('\n');
    for (let i = 1; i < IDS.length; i++) {
      const begin = lines.findIndex((l) => l.includes(`ih: scenario ${i} ${IDS[i]} begin`));
      const firstLine = lines.find((l, j) => j > begin && /Checksum failed/.test(l));
      const lastLine = lines.slice(0, begin).filter((l) => /Checksum failed/.test(l)).at(-1);
      expect(begin).toBeGreaterThan(0);
      expect(lastLine).toBeDefined();
      expect(firstLine).toBeDefined();
      expect(stamp(firstLine!) - stamp(lastLine!)).toBeGreaterThan(5);
    }
  }, 600_000);
});
