/**
 * Kernel faults injected for real between two scenarios of a shared guest, with the guest left alive or
 * hung: a WARNING, an oops (the writing process is killed, the kernel goes on) and a hard hang (interrupts
 * off, spinning on the only CPU). None of the three can be had from a stock kernel on demand, so the kernel
 * is Debian's linux-source-6.1 built with fixtures/sysrq-injections.patch, a test-only patch that gives
 * /proc/sysrq-trigger three keys: W (WARN), O (a NULL pointer write) and H (the hang). The console text the
 * kernel prints is its own; nothing is written to /dev/kmsg by hand.
 *
 * What each must get: the scenario that ended before the fault is `crash` (WARNING, oops) or `hang`, with the
 * kernel's line and "after ... ended" in its reason; the scenario after it is not blamed; the run's exit
 * code is 1. The patched build starts from the plain src:6.1 build's objects (only drivers/tty/sysrq.c
 * differs), so it costs a relink once the plain build is cached.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { buildGuestImage } from '../../vm/image/initramfs.ts';
import { provideKernel } from '../../vm/kernel/provider.ts';
import { parseKernelSpec, withBuildOptions, type SourceKernelSpec } from '../../vm/kernel/spec.ts';
import { liveGuests } from '../../vm/qemu/guest.ts';
import { exitCodeFor } from '../verdict/exit-code.ts';
import { FaultTable } from './fault-table.ts';
import { preflight } from '../preflight.ts';
import type { CellSpec } from '../run/session/cell.ts';
import type { Verdict } from '../verdict/types.ts';
import { runShared } from '../run/share/share.ts';
import { DISK_BUDGET, guestKey, SharedGuest, slotDisks, type SharedSlotRun } from '../run/share/shared-guest.ts';
import type { Scenario } from '../scenario/load.ts';
import { scenarioFile, type GuestKernel } from '../test/guest-fixture.ts';

const PATCH = join(repoRoot(), 'harness/faults/fixtures/sysrq-injections.patch');

let gk: GuestKernel;
let s001: Scenario;
let s003: Scenario;
const root = mkdtempSync(join(tmpdir(), 'ih-between-'));

beforeAll(async () => {
  await preflight();
  const tools = await buildGuestTools(cacheDir());
  const spec = withBuildOptions(parseKernelSpec('src:6.1') as SourceKernelSpec, { patches: [PATCH], kconfig: [], makeArgs: [] });
  const kernel = await provideKernel(spec);
  gk = { kernel, image: await buildGuestImage(kernel, tools) };
  s001 = await scenarioFile('integrity/001-crc32c-journal-corrupt');
  s003 = await scenarioFile('integrity/003-hmac-direct-swap');
}, 1_800_000);
afterAll(() => {
  if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});

function spec(name: string, over: Partial<CellSpec> = {}): CellSpec {
  return {
    id: `between/${name}`, dir: join(root, name), scenario: s001, kernel: gk.kernel, image: gk.image, accel: 'tcg',
    bootTimeoutMs: 120_000, memoryMb: 768, cpus: 1, keepDisks: false, ...over,
  };
}

interface Final { id: string; verdict: Verdict; position: number; r: SharedSlotRun }

/** Scenario 1 then scenario 2 in one shared guest, with `key` written to sysrq-trigger after scenario 1 ended. */
async function faultBetween(name: string, key: string): Promise<{ one: Final; two: Final; guests: number }> {
  const first = spec(`${name}-1`, { hooks: { afterEnd: ['sh', '-c', `echo ${key} > /proc/sysrq-trigger`] } });
  // a short step deadline: after a hang, the second scenario's first command waits this long for an answer
  const second = spec(`${name}-2`, { scenario: { ...s003, stepTimeout: 30 } });
  const finals: Final[] = [];
  let guests = 0;
  await runShared<CellSpec, SharedSlotRun>([first, second], { perGuest: 2, jobs: 1, budget: DISK_BUDGET, guestKey, weight: slotDisks }, {
    open: (batch) => SharedGuest.open(batch, join(root, `${name}-guest-${++guests}`)),
  }, {
    final: async (x, r, position) => {
      finals.push({ id: x.id, verdict: r.verdict, position, r });
      return false;
    },
    provisional: async () => undefined,
  });
  return { one: finals.find((f) => f.id === first.id)!, two: finals.find((f) => f.id === second.id)!, guests };
}

const faults = new FaultTable();
const record = faults.record.bind(faults);

describe('kernel faults between two scenarios of a shared guest, injected for real (src:6.1 + sysrq-injections.patch)', () => {
  it('a WARNING after scenario 1 ended, the guest alive: crash for scenario 1 with the WARNING; scenario 2 passes', async () => {
    const { one, two } = await faultBetween('warn', 'W');
    record('WARNING (sysrq W) between scenario 1 and 2, guest alive: scenario 1', 'crash', one.verdict);
    record('WARNING between scenarios: scenario 2', 'pass', two.verdict);
    expect(one.verdict, one.r.result.reason).toBe('crash');
    expect(one.r.result.signature).toMatch(/WARNING: .*sysrq/);
    expect(one.r.result.reason).toMatch(/after integrity\/001-crc32c-journal-corrupt ended, before the next scenario began|after the scenario ended/);
    // the kernel's own report is in scenario 1's console, after its end marker
    const c1 = readFileSync(join(root, 'warn-1', 'console.log'), 'utf8');
    expect(c1.indexOf('ih: injected warning')).toBeGreaterThan(c1.indexOf(`ih: scenario 0 ${s001.id} end`));
    expect(two.verdict, two.r.result.reason).toBe('pass');
    expect(exitCodeFor([one.verdict, two.verdict])).toBe(1);
    expect(liveGuests()).toHaveLength(0);
  }, 900_000);

  it('an oops after scenario 1 ended, the guest alive: crash for scenario 1 with the oops; scenario 2 passes', async () => {
    const { one, two } = await faultBetween('oops', 'O');
    record('oops (sysrq O, NULL write) between scenario 1 and 2, guest alive: scenario 1', 'crash', one.verdict);
    record('oops between scenarios: scenario 2', 'pass', two.verdict);
    expect(one.verdict, one.r.result.reason).toBe('crash');
    expect(one.r.result.signature).toMatch(/BUG: kernel NULL pointer dereference|Oops/);
    expect(two.verdict, two.r.result.reason).toBe('pass');
    expect(exitCodeFor([one.verdict, two.verdict])).toBe(1);
    expect(liveGuests()).toHaveLength(0);
  }, 900_000);

  it('a hard hang after scenario 1 ended: hang for scenario 1, never error; scenario 2 passes in a fresh guest', async () => {
    const { one, two, guests } = await faultBetween('hang', 'H');
    record('hard hang (sysrq H, irqs off on the only CPU) between scenario 1 and 2: scenario 1', 'hang', one.verdict);
    record('hang between scenarios: scenario 2', 'pass', two.verdict);
    expect(one.verdict, one.r.result.reason).toBe('hang');
    expect(one.r.result.reason).toMatch(/stopped answering after integrity\/001-crc32c-journal-corrupt ended/);
    expect(two.verdict, two.r.result.reason).toBe('pass');
    expect(two.position).toBe(0);
    expect(guests).toBe(2);
    expect(exitCodeFor([one.verdict, two.verdict])).toBe(1);
    expect(liveGuests()).toHaveLength(0);
  }, 900_000);
});
