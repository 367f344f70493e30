/**
 * Guest-side faults, injected for real on the Debian 6.1 kernel, each checked for the verdict class it must
 * get and the exit code that class gives (exitCodeFor): a panic between two scenarios of a shared guest, QEMU
 * a scenario that panics only after another (its fresh-guest pass kept beside the crash), QEMU
 * killed (SIGKILL) and stopped (SIGSTOP) in a step, disk images on a full file system (before the guest
 * boots, and filling up under a running guest), an initramfs that is garbage, and a guest program that
 * segfaults. No fault may pass, and none may be blamed on the wrong side.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, writeSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Guest, liveGuests } from '../../vm/qemu/guest.ts';
import { exitCodeFor } from '../verdict/exit-code.ts';
import { FaultTable } from './fault-table.ts';
import type { RunRecord, SharedRunRecord } from '../results.ts';
import { SILENT_RESET } from '../verdict/execution.ts';
import type { CellSpec } from '../run/session/cell.ts';
import { runCell } from '../run/run-cell.ts';
import { withSharedRun } from '../run/shared-executions.ts';
import type { Verdict } from '../verdict/types.ts';
import { runShared } from '../run/share/share.ts';
import { DISK_BUDGET, guestKey, SharedGuest, slotDisks, type SharedSlotRun } from '../run/share/shared-guest.ts';
import type { Scenario } from '../scenario/load.ts';
import { prepareGuestKernel, scenarioFile, type GuestKernel } from '../test/guest-fixture.ts';

let gk: GuestKernel;
let s001: Scenario;
let s003: Scenario;
const root = mkdtempSync(join(tmpdir(), 'ih-faults-'));
const mounts: string[] = [];

beforeAll(async () => {
  gk = await prepareGuestKernel();
  s001 = await scenarioFile('integrity/001-crc32c-journal-corrupt');
  s003 = await scenarioFile('integrity/003-hmac-direct-swap');
});
afterAll(() => {
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});

function spec(name: string, over: Partial<CellSpec> = {}, dir = join(root, name)): CellSpec {
  return {
    id: `fault/${name}`, dir, scenario: s001, kernel: gk.kernel, image: gk.image, accel: 'tcg',
    bootTimeoutMs: 120_000, memoryMb: 768, cpus: 1, keepDisks: false, ...over,
  };
}

/** Waits until the file holds `text` (a step marker on the console). */
async function whenFileHas(path: string, text: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path) && readFileSync(path, 'utf8').includes(text)) return;
    await sleep(100);
  }
  throw new Error(`${path} did not show '${text}' within ${timeoutMs / 1000}s`);
}

/** A tmpfs of `size` at a fresh directory (unmounted after the file). */
function tmpfs(name: string, size: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Writes `path` until its file system is full (the guest may be filling it at the same time). */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 0xa5);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

const faults = new FaultTable();
const record = faults.record.bind(faults);

describe('guest-side faults, injected for real', () => {
  it('a kernel that panics between two scenarios of a shared guest: crash for the scenario before it, with the panic', async () => {
    // sysrq-trigger 'c' panics the kernel at once, after scenario 1's end marker and before scenario 2 begins
    const first = spec('panic-between-1', { hooks: { afterEnd: ['sh', '-c', 'echo c > /proc/sysrq-trigger'] } });
    const second = spec('panic-between-2', { scenario: s003 });
    const finals: Array<{ id: string; verdict: Verdict; position: number; r: SharedSlotRun }> = [];
    const provisional: string[] = [];
    let n = 0;
    await runShared<CellSpec, SharedSlotRun>([first, second], { perGuest: 2, jobs: 1, budget: DISK_BUDGET, guestKey, weight: slotDisks }, {
      open: (batch) => SharedGuest.open(batch, join(root, `panic-guest-${++n}`)),
    }, {
      final: async (x, r, position) => {
        finals.push({ id: x.id, verdict: r.verdict, position, r });
        return false;
      },
      provisional: async (x) => {
        provisional.push(x.id);
      },
    });
    const one = finals.find((f) => f.id === first.id)!;
    const two = finals.find((f) => f.id === second.id)!;
    record('panic (sysrq c) between scenario 1 and 2 of a shared guest: scenario 1', 'crash', one.verdict);
    record('panic between scenarios: scenario 2 (never began there; fresh guest)', 'pass', two.verdict);
    expect(one.verdict, one.r.result.reason).toBe('crash');
    expect(one.r.result.signature).toMatch(/Kernel panic - not syncing: sysrq triggered crash/);
    expect(one.r.result.reason).toMatch(/after the scenario ended/);
    // the panic is in scenario 1's console, after its end marker
    const slice = readFileSync(join(first.dir, 'console.log'), 'utf8');
    expect(slice.indexOf('sysrq triggered crash')).toBeGreaterThan(slice.indexOf(`ih: scenario 0 ${s001.id} end`));
    expect(two.verdict, two.r.result.reason).toBe('pass');
    expect(two.position).toBe(0);
    expect(exitCodeFor(finals.map((f) => f.verdict))).toBe(1);
    expect(liveGuests()).toHaveLength(0);
  }, 900_000);

  it('a scenario that panics only after another one: crash stays its verdict, with the fresh guest\'s pass beside it', async () => {
    // scenario 1 leaves a mark the state check does not look for (a file in devtmpfs); scenario 2 panics
    // the kernel only when it finds it, so in a fresh guest it passes: the bug "needs the sequence"
    const first = spec('sequence-1', { hooks: { afterEnd: ['touch', '/dev/ih-sequence'] } });
    const second = spec('sequence-2', { scenario: s003, hooks: { beforeStack: ['sh', '-c', 'if test -e /dev/ih-sequence; then echo c > /proc/sysrq-trigger; fi'] } });
    const finals = new Map<string, RunRecord>();
    const shared = new Map<string, SharedRunRecord>();
    let n = 0;
    await runShared<CellSpec, SharedSlotRun>([first, second], { perGuest: 2, jobs: 1, budget: DISK_BUDGET, guestKey, weight: slotDisks }, {
      open: (batch) => SharedGuest.open(batch, join(root, `sequence-guest-${++n}`)),
    }, {
      provisional: async (x, r) => {
        // what the matrix keeps (matrix.ts): the shared run's files aside, its verdict and what ran before it
        renameSync(x.dir, `${x.dir}-shared`);
        shared.set(x.id, { verdict: r.verdict, reason: r.result.reason, ...(r.result.signature ? { signature: r.result.signature } : {}), before: r.before, dir: `${x.dir}-shared`, guest: r.guestDir });
      },
      final: async (x, r) => {
        const run: RunRecord = { repeat: 1, attempt: 1, verdict: r.verdict, reason: r.result.reason, durationMs: r.result.durationMs, dir: x.dir, ...(r.result.signature ? { signature: r.result.signature } : {}) };
        const sr = shared.get(x.id);
        finals.set(x.id, sr === undefined ? run : await withSharedRun(run, sr, '/'));
        return false;
      },
    });
    const one = finals.get(first.id)!;
    const two = finals.get(second.id)!;
    record('scenario 2 panics only after scenario 1 (shared guest)', 'crash', two.verdict);
    expect(one.verdict, one.reason).toBe('pass');
    expect(two.verdict, two.reason).toBe('crash');
    expect(two.signature).toMatch(/^Kernel panic - not syncing: sysrq triggered crash/);
    expect(two.sharedRun).toMatchObject({ verdict: 'crash', before: [s001.id], rerun: { verdict: 'pass' } });
    expect(two.reason).toMatch(/in a shared guest after integrity\/001-crc32c-journal-corrupt; run again first in a fresh guest it passed/);
    // both result.json files carry the pair
    for (const d of [`${second.dir}-shared`, second.dir]) expect(JSON.parse(readFileSync(join(d, 'result.json'), 'utf8')).sharedRun.rerun.verdict).toBe('pass');
    expect(exitCodeFor([...finals.values()].map((f) => f.verdict))).toBe(1);
  }, 900_000);

  it('QEMU killed with SIGKILL in a step: error, not a kernel verdict', async () => {
    const s = spec('sigkill');
    const running = runCell(s);
    await whenFileHas(join(s.dir, 'console.log'), 'ih: step 1 read');
    process.kill(liveGuests()[0]!.pid!, 'SIGKILL');
    const r = await running;
    record('QEMU SIGKILLed mid-scenario', 'error', r.verdict);
    expect(r.verdict, r.reason).toBe('error');
    expect(r.reason).toMatch(/SIGKILL that the harness did not send/);
  }, 600_000);

  it('QEMU stopped with SIGSTOP in a step: the step deadline passes, and the host is named, not the kernel', async () => {
    const s = spec('sigstop', { scenario: { ...s001, stepTimeout: 15 } });
    const running = runCell(s);
    await whenFileHas(join(s.dir, 'console.log'), 'ih: step 1 read');
    const pid = liveGuests()[0]!.pid!;
    process.kill(pid, 'SIGSTOP');
    const r = await running;
    record('QEMU SIGSTOPped mid-scenario', 'error', r.verdict);
    expect(r.verdict, r.reason).toBe('error');
    expect(r.reason).toMatch(new RegExp(`QEMU \\(pid ${pid}\\) is stopped \\(process state T`));
    expect(liveGuests()).toHaveLength(0);
  }, 600_000);

  it('disk images on a full file system: error naming the path and the free space, before any guest boots', async () => {
    const dir = tmpfs('full-before', '8m');
    writeFileSync(join(dir, 'filler'), Buffer.alloc(6 * 1024 * 1024));
    const s = spec('enospc-before', {}, join(dir, 'cell'));
    const start = vi.spyOn(Guest, 'start');
    let r: SharedSlotRun;
    let boots: number;
    try {
      const g = await SharedGuest.open([s], join(dir, 'guest'));
      r = await g.run(s, 0);
      await g.close();
    } finally {
      boots = start.mock.calls.length;
      start.mockRestore();
    }
    record('results dir on a full 8 MiB tmpfs (before boot)', 'error', r.verdict);
    expect(r.verdict).toBe('error');
    expect(r.result.reason).toMatch(new RegExp(`not enough free space for the disk images of integrity/001-crc32c-journal-corrupt in ${dir}/cell/disks: [\\d.]+ MiB free`));
    expect(boots).toBe(0);
  }, 60_000);

  it('disk images on a file system that fills up under the running guest: QEMU pauses it, error naming the image', async () => {
    const dir = tmpfs('full-during', '160m');
    // only the disk images live there (the cell's directory links its disks/ to it): the harness's own
    // files (console, steps, result) stay writable, so what is judged is the guest's I/O alone
    const s = spec('enospc-during', { scenario: { ...s001, stepTimeout: 20 } });
    mkdirSync(s.dir, { recursive: true });
    symlinkSync(dir, join(s.dir, 'disks'));
    const running = runCell(s);
    // once the stack is built and written (the data image is allocated, format wiped it), leave the images'
    // file system almost nothing: the read steps' output disk, still sparse, fills it from inside the guest
    await whenFileHas(join(s.dir, 'console.log'), 'ih: step 0 write');
    fillUp(join(dir, 'filler'));
    const r = await running;
    record('disk images on a tmpfs filled up mid-scenario (ENOSPC)', 'error', r.verdict);
    expect(r.verdict, r.reason).toBe('error');
    expect(r.reason).toMatch(/QEMU paused the guest on a host I\/O error on \S*enospc-during\/disks\/\w+\.img.*no space left on the host file system/);
  }, 600_000);

  it('an initramfs that is garbage: error (the guest image), not a kernel crash', async () => {
    const bad = join(root, 'garbage-initramfs.img');
    copyFileSync(gk.image.path, bad);
    writeFileSync(bad, Buffer.alloc(64 * 1024, 0x5a));
    const s = spec('bad-initramfs', { image: { ...gk.image, path: bad } });
    const r = await runCell(s);
    record('corrupted initramfs', 'error', r.verdict);
    expect(r.verdict, r.reason).toBe('error');
    expect(r.reason).toMatch(/Kernel panic - not syncing: (VFS: Unable to mount root|No working init found)/);
  }, 300_000);

  it('a guest that resets with no oops (sysrq b) in a scenario: crash with the silent-reset signature, not an error', async () => {
    // sysrq 'b' reboots at once without a panic or an oops; under -no-reboot QEMU ends, and how it ended says so
    const s = spec('silent-reset', { hooks: { beforeStack: ['sh', '-c', 'echo b > /proc/sysrq-trigger'] } });
    const r = await runCell(s);
    record('guest reset with no oops (sysrq b) mid-scenario', 'crash', r.verdict);
    expect(r.verdict, r.reason).toBe('crash');
    expect(r.signature).toBe(SILENT_RESET);
    expect(r.reason).toMatch(/the guest reset during the scenario .* with no oops or panic on the console/);
  }, 300_000);

  it('a guest program that segfaults: its step fails with the kernel\'s report as evidence, never a crash', async () => {
    const s = spec('segfault', { hooks: { beforeStack: ['sh', '-c', 'ulimit -s 512; f() { f; }; f'] } });
    const r = await runCell(s);
    record('guest tool segfaults (sh recursion)', 'fail', r.verdict);
    expect(r.verdict, r.reason).not.toBe('crash');
    expect(r.verdict, r.reason).toBe('fail');
    expect(r.reason).toMatch(/exited SIGSEGV/);
    expect(r.reason).toMatch(/a guest program faulted: .*segfault at/);
  }, 300_000);

  afterAll(() => {
    if (faults.rows.length > 0) writeFileSync(join(tmpdir(), 'ih-guest-faults-table.json'), JSON.stringify(faults.rows, null, 2) + '\n');
  });
});
