/**
 * Boots Debian 6.1 in QEMU and runs the crypt-aead seed scenarios end to end. Passing needs more than
 * verdict `pass`: the guest must have really run the I/O (ih-io exit codes, the kernel's own AEAD error
 * lines in the console) and the corrupted / never-written blocks must really have failed in the guest.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../vm/cache.ts';
import type { StepRecord } from '../../run/session/observations.ts';
import { runScenarioFile } from '../../run/single-cell.ts';

process.env.IH_CACHE_DIR ??= join(repoRoot(), '.cache');
const scenarios = join(repoRoot(), 'scenarios');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function run(id: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ih-crypt-guest-'));
  dirs.push(dir);
  const r = await runScenarioFile({ file: join(scenarios, `${id}.yaml`), scenariosDir: scenarios, kernel: '6.1', dir });
  const steps: StepRecord[] = readFileSync(join(dir, 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const console = readFileSync(join(dir, 'console.log'), 'utf8');
  return { ...r, steps, console };
}

/** The exit code of the step's ih-io command: 0 all I/O ok, 1 some I/O failed (with the kernel's errno). */
function ioExit(steps: StepRecord[], index: number): number | null | undefined {
  return steps.find((s) => s.index === index)?.commands.find((c) => c.argv[0] === 'ih-io')?.exitCode;
}

describe('crypt-aead on Debian 6.1 (QEMU)', () => {
  it('seed: O_DIRECT reads right after the writes pass; never-written blocks fail with EILSEQ in the guest', async () => {
    const { result, steps, console } = await run('crypt/001-gcm-read-after-write');
    expect(result.kernelRelease).toMatch(/^6\.1\./);
    expect(result.verdict, result.reason).toBe('pass');
    expect(result.disagreements).toEqual([]);
    expect([0, 1, 2, 3].map((i) => ioExit(steps, i))).toEqual([0, 0, 0, 0]);
    expect(ioExit(steps, 4)).toBe(1);
    expect(steps.find((s) => s.index === 4)?.note).toBe('failed blocks: 4096-4111 (errno 84); model: 4096-4111');
    expect(console).toContain('INTEGRITY AEAD ERROR, sector 4096');
    expect(steps.find((s) => s.kind === 'teardown')?.note).toMatch(/audit: 4096 sectors decrypt, \d+ never written, 0 fail; 0 disagreement/);
  }, 300_000);

  it('corrupted ciphertext, auth tag and IV fail exactly in the guest after reopen; the rest reads back', async () => {
    const { result, steps, console } = await run('crypt/002-gcm-corrupt-data-tag-iv');
    expect(result.verdict, result.reason).toBe('pass');
    for (const i of [6, 7]) {
      expect(ioExit(steps, i)).toBe(1);
      expect(steps.find((s) => s.index === i)?.note).toBe('failed blocks: 3, 700, 1000, 1500 (errno 84); model: 3, 700, 1000, 1500');
    }
    expect(ioExit(steps, 9)).toBe(0); // block 3 rewritten: healed
    for (const sector of [3, 700, 1000, 1500]) expect(console).toMatch(new RegExp(`INTEGRITY AEAD ERROR, sector ${sector}\\b`));
    expect(steps.find((s) => s.kind === 'teardown')?.note).toMatch(/audit: 2045 sectors decrypt, \d+ never written, 3 fail; 0 disagreement/);
  }, 300_000);
});
