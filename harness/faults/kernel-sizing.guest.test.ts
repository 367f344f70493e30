/**
 * Injected kernel fault (guest side): a dm-integrity that announces the wrong logical block size. The patch
 * (fixtures/integrity-logical-block-512.patch) makes a 4 KiB-sector stack report 512-byte logical blocks, as a
 * limits regression would. ih-io refuses to issue O_DIRECT I/O the device's own answers contradict, and the
 * cell must be `fail` with the disagreement naming what the kernel said (harness/run/session/io-refusal.ts), never an
 * infrastructure `error`. The same scenario passes on the unpatched tree (source-kernel.guest.test.ts builds it).
 *
 * In a shared guest the failure hands the guest on (it leaves nothing behind): the next scenario runs in the
 * same boot, and the failing one runs again first in a fresh guest, which fails it too.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import type { Summary } from '../results.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-sizing-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const PATCH = join(repoRoot(), 'harness/faults/fixtures/integrity-logical-block-512.patch');

describe('a kernel whose dm-integrity reports the wrong logical block size', () => {
  it('fails the 4 KiB-sector scenario, naming the logical block size it reported, and exits 1', { timeout: 1_800_000 }, async () => {
    const results = join(root, 'run');
    const r = await execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--results', results,
      '--kernel', 'src:6.1', '--patch', PATCH, '--scenario', 'integrity/018-*', '--jobs', '1'], { cwd: repoRoot(), reject: false, all: true });
    const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
    expect(s.kernels.map((k) => k.status), r.all).toEqual(['ok']);
    const [cell] = s.cells;
    expect(cell, r.all).toMatchObject({ scenario: 'integrity/018-crc32c-4k-direct-corrupt', verdict: 'fail' });
    const disagreements = JSON.parse(readFileSync(join(results, 'latest', cell!.dir, 'disagreements.json'), 'utf8')) as Array<{ kind: string; expected: string; found: string }>;
    expect(disagreements).toContainEqual(expect.objectContaining({ kind: 'logical-block-size', expected: '4096 (the model)', found: '512' }));
    expect(r.exitCode).toBe(1);
  });

  it('in a shared guest the failure hands the guest on, and runs again first in a fresh guest', { timeout: 1_800_000 }, async () => {
    const results = join(root, 'shared');
    const r = await execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'), '--results', results,
      '--kernel', 'src:6.1', '--patch', PATCH, '--scenario', 'integrity/001-*', '--scenario', 'integrity/018-*', '--scenario', 'integrity/022-*',
      '--jobs', '1', '--share-guest', '8'], { cwd: repoRoot(), reject: false, all: true });
    const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
    const cell = (id: string) => s.cells.find((c) => c.scenario.startsWith(id))!;
    expect(Object.fromEntries(s.cells.map((c) => [c.scenario.slice(0, 13), c.verdict])), r.all).toEqual({ 'integrity/001': 'pass', 'integrity/018': 'fail', 'integrity/022': 'pass' });
    // 001, 018 and 022 ran in one boot; 018 again in a second one
    const guest = cell('integrity/001').guest;
    expect(guest).toBeDefined();
    expect(cell('integrity/022').guest).toBe(guest);
    expect(cell('integrity/018').sharedRun).toMatchObject({ verdict: 'fail', before: ['integrity/001-crc32c-journal-corrupt'], guest, rerun: { verdict: 'fail' } });
    expect(readdirSync(join(results, 'latest', 'guests'))).toHaveLength(2);
    expect(r.exitCode).toBe(1);
  });
});
