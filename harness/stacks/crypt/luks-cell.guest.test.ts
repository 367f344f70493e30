/**
 * Boots Debian 6.1 in QEMU and runs LUKS2 scenarios end to end. Passing needs more than verdict `pass`:
 * cryptsetup must really have built the stack the model read from the header, the guest must really have
 * seen EILSEQ on never-written sectors after --integrity-no-wipe and zeros after a wiping format, and
 * BLKDISCARD must really have failed with EOPNOTSUPP after cryptsetup refused --allow-discards.
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
  const dir = mkdtempSync(join(tmpdir(), 'ih-luks-guest-'));
  dirs.push(dir);
  const r = await runScenarioFile({ file: join(scenarios, `${id}.yaml`), scenariosDir: scenarios, kernel: '6.1', dir });
  const steps: StepRecord[] = readFileSync(join(dir, 'steps.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const console = readFileSync(join(dir, 'console.log'), 'utf8');
  return { ...r, steps, console };
}

const step = (steps: StepRecord[], index: number) => steps.find((s) => s.index === index);
const teardown = (steps: StepRecord[]) => steps.find((s) => s.kind === 'teardown');
/** The exit code of the step's command whose argv starts with `program` (ih-io: 0 all ok, 1 some I/O failed). */
const exitOf = (steps: StepRecord[], index: number, program = 'ih-io') => step(steps, index)?.commands.find((c) => c.argv[0] === program)?.exitCode;

describe('LUKS2 with integrity on Debian 6.1 (QEMU)', () => {
  it('--integrity-no-wipe: never-written sectors fail with EILSEQ in the guest, written ones read back', async () => {
    const { result, steps, console } = await run('luks/002-gcm-aead-no-wipe');
    expect(result.kernelRelease).toMatch(/^6\.1\./);
    expect(result.verdict, result.reason).toBe('pass');
    expect(result.disagreements).toEqual([]);
    const setup = step(steps, -1)!;
    expect(setup.commands.find((c) => c.argv[1] === 'luksFormat')?.argv).toContain('--integrity-no-wipe');
    expect(setup.note).toMatch(/LUKS2 segment at 16777216: aes-gcm-random \+ aead, 512-byte sectors, 32-byte key; .*not wiped; tables: capi:gcm\(aes\)-random integrity:28:aead on ih-luks_dif at 32768; 0 difference\(s\)/);
    expect(exitOf(steps, 0)).toBe(1);
    expect(step(steps, 0)?.note).toBe('failed blocks: 0-15 (errno 84); model: 0-15');
    expect(exitOf(steps, 5)).toBe(0); // 1028 KiB in one request, all written by then
    expect(console).toContain('INTEGRITY AEAD ERROR, sector 0');
    expect(teardown(steps)?.note).toMatch(/audit: 2055 sectors decrypt, 28472 never written, 1 fail; 0 disagreement/);
  }, 300_000);

  it('wiped hmac-sha256 + aes-xts-plain64: never-written sectors read as zeros, corrupted ones fail', async () => {
    const { result, steps } = await run('luks/003-hmac-xts-plain64-wiped');
    expect(result.verdict, result.reason).toBe('pass');
    expect(step(steps, -1)?.note).toMatch(/aes-xts-plain64 \+ hmac\(sha256\), 512-byte sectors, 96-byte key; .*; wiped; tables: capi:authenc\(hmac\(sha256\),xts\(aes\)\)-plain64 integrity:32:aead/);
    expect(exitOf(steps, 2)).toBe(0);
    expect(step(steps, 2)?.note).toBe('all 128 blocks read');
    expect(exitOf(steps, 7)).toBe(1);
    expect(step(steps, 7)?.note).toBe('failed blocks: 5, 64 (errno 84); model: 5, 64');
    expect(teardown(steps)?.note).toMatch(/audit: 30269 sectors decrypt, 0 never written, 3 fail; 0 disagreement/);
  }, 300_000);

  it('cryptsetup refuses --allow-discards; BLKDISCARD through the crypt device fails with EOPNOTSUPP and changes nothing', async () => {
    const { result, steps } = await run('luks/005-discard-refused');
    expect(result.verdict, result.reason).toBe('pass');
    const refused = step(steps, -1)!.commands.find((c) => c.argv.includes('--allow-discards'));
    expect(refused?.exitCode).toBe(1);
    expect(refused?.stderrTail).toContain('Discard/TRIM is not supported.');
    expect(step(steps, -1)?.note).toContain('ih-luks (dm-1) discard_max_bytes 0');
    for (const i of [1, 7]) {
      expect(exitOf(steps, i)).toBe(1);
      expect(step(steps, i)?.note).toMatch(/^discard: errno 95 \(EOPNOTSUPP\)/);
    }
    expect(step(steps, 2)?.note).toBe('all 512 blocks read');
    expect(step(steps, 8)?.note).toBe('failed blocks: 200 (errno 84); model: 200');
  }, 300_000);
});
