/**
 * The crash scenarios on dm-crypt AEAD stacks and the kill scenarios, on a real Debian kernel through the
 * same cell runner as the matrix. The power-cut scenarios run with a short workload (the shipped one
 * checks ~200 points, minutes under TCG); the true replay must pass, and a replay without dm-integrity's
 * journal writes must be caught under dm-crypt too. The kill scenarios run as shipped: QEMU must really
 * have been SIGKILLed during the chosen write and a second guest booted on the same disks.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../../scenario/load.ts';
import type { CrashStep } from '../../scenario/schema.ts';
import { prepareGuestKernel, scenarioFile, type GuestKernel } from '../../test/guest-fixture.ts';
import { SECOND_CONSOLE, type CellHooks } from '../../run/session/cell.ts';
import { runCell } from '../../run/run-cell.ts';
import type { StepRecord } from '../../run/session/observations.ts';

let gk: GuestKernel;
const dirs: string[] = [];
beforeAll(async () => {
  gk = await prepareGuestKernel();
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const SHORT: CrashStep['workload'] = [
  { write: { offset: 0, length: 8192, bs: 512, fua: true, jobs: 2 } },
  { write: { offset: 4096, length: 16384, bs: 4096, fua: false, jobs: 1 } },
  'flush',
  { write: { offset: 1020 * 1024, length: 8192, bs: 8192, fua: false, jobs: 1 } },
];

/** The scenario with its crash step cut to the short workload and a few sampled points. */
function shortened(s: Scenario): Scenario {
  const steps = s.steps.map((st) => (typeof st === 'object' && 'crash' in st ? { crash: { ...st.crash, workload: SHORT, torn: 4, reordered: 4 } } : st));
  return { ...s, steps };
}

async function run(scenario: Scenario, hooks?: CellHooks) {
  const dir = mkdtempSync(join(tmpdir(), 'ih-crash-stacks-'));
  dirs.push(dir);
  const result = await runCell({
    id: `${gk.kernel.label}/${scenario.id}`, dir, scenario, kernel: gk.kernel, image: gk.image, accel: 'tcg',
    bootTimeoutMs: 180_000, memoryMb: 768, cpus: 1, keepDisks: false, ...(hooks ? { hooks } : {}),
  });
  const steps: StepRecord[] = readFileSync(join(dir, 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { result, steps, dir };
}

const noteOf = (steps: StepRecord[], kind: string) => steps.find((s) => s.kind === kind)?.note ?? '';

describe('crash consistency of dm-crypt AEAD stacks (Debian kernel, QEMU)', () => {
  it('crypt-aead gcm(aes) journal: every point passes with the true replay; dropping the journal is caught', async () => {
    const s = shortened(await scenarioFile('crash/004-crypt-gcm-journal'));
    const good = await run(s);
    expect(good.result.kernelRelease).toBeDefined();
    expect(good.result.verdict, good.result.reason).toBe('pass');
    const note = noteOf(good.steps, 'crash');
    process.stderr.write(`crypt journal, true replay: ${note}\n`);
    expect(note).toMatch(/crypt-aead journal mode promises: every sector old or new and authenticates/);
    const m = /(\d+) crash points checked .* (\d+) failing/.exec(note);
    expect(Number(m?.[1])).toBeGreaterThan(10);
    expect(Number(m?.[2])).toBe(0);

    const bad = await run(s, { brokenReplay: 'drop-journal' });
    process.stderr.write(`crypt journal, broken replay: ${bad.result.verdict} ${bad.result.reason}\n`);
    expect(bad.result.verdict).toBe('fail');
    const kinds = new Set(bad.result.disagreements.map((d) => d.kind));
    expect([...kinds].some((k) => ['integrity-error', 'lost-write', 'raw-tag-mismatch'].includes(k)), [...kinds].join(', ')).toBe(true);
    expect(bad.result.disagreements.every((d) => d.expected.includes('at crash point'))).toBe(true);
    expect(noteOf(bad.steps, 'crash')).toMatch(/deliberately broken replay/);
  }, 1_200_000);

  it('crypt-aead gcm(aes) direct and LUKS2 aead: every point keeps the mode\'s promise', async () => {
    for (const id of ['crash/005-crypt-gcm-direct', 'crash/006-luks2-gcm-aead']) {
      const r = await run(shortened(await scenarioFile(id)));
      const note = noteOf(r.steps, 'crash');
      process.stderr.write(`${id}: ${r.result.verdict} ${note}\n`);
      expect(r.result.verdict, r.result.reason).toBe('pass');
      expect(Number(/(\d+) crash points checked/.exec(note)?.[1])).toBeGreaterThan(10);
    }
  }, 1_200_000);

  it('kill: QEMU is SIGKILLed during the seeded write, a fresh guest reopens the stack, and the promise holds', async () => {
    for (const id of ['crash/008-kill-crypt-gcm-journal', 'crash/009-kill-crypt-gcm-direct']) {
      const s = await scenarioFile(id);
      const r = await run(s);
      const note = noteOf(r.steps, 'kill');
      process.stderr.write(`${id}: ${r.result.verdict} ${note}\n`);
      expect(r.result.verdict, r.result.reason).toBe('pass');
      const kill = JSON.parse(readFileSync(join(r.dir, 'kill.json'), 'utf8'));
      const step = s.steps.find((st) => typeof st === 'object' && 'kill' in st) as { kill: { seed: number } };
      expect(kill.seed).toBe(step.kill.seed);
      expect(note).toContain(`kill seed ${kill.seed}: QEMU is killed ${kill.delayMs} ms into workload[${kill.op}]`);
      expect(note).toMatch(/fresh guest booted on the same disks/);
      expect(note).toMatch(/[1-9]\d* blocks read after the kill, 0 finding/);
      // both boots really happened: the second guest has its own console
      expect(existsSync(join(r.dir, SECOND_CONSOLE))).toBe(true);
      expect(readFileSync(join(r.dir, SECOND_CONSOLE), 'utf8')).toMatch(/Linux version/);
    }
  }, 1_200_000);
});
