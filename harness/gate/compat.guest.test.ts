/**
 * The gate's format-compatibility pass on real guests: the Debian 6.1 kernel package as base, linux-source-6.1
 * built by the harness (cached) as candidate. Each of the three stacks is written by one and read by the
 * other, in both directions, and must pass. Then a disk the base wrote, with one data byte flipped from the
 * host, is read by the candidate: the reader must fail (the pass judges what it reads, it is no formality).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import { corruptionOffset } from '../model/integrity/corrupt.ts';
import { integrityGeometry } from '../model/integrity/geometry.ts';
import { parseIntegritySuperblock, SB_BYTES } from '../model/integrity/superblock.ts';
import type { Summary } from '../results.ts';
import { runCell } from '../run/run-cell.ts';
import { readAt, writeAt } from '../run/session/disks.ts';
import { loadScenario } from '../scenario/load.ts';
import { prepareGuestKernel } from '../test/guest-fixture.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-compat-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const STACKS = ['compat/crypt-gcm-random', 'compat/integrity-crc32c-journal', 'compat/luks2-gcm-aead'];

describe('format compatibility, Debian 6.1 package vs linux-source-6.1', () => {
  let runDir = '';

  it('reads in each kernel every block the other wrote, for every stack, both ways', { timeout: 3_600_000 }, async () => {
    const r = await execa('node', ['--import', 'tsx', join(repoRoot(), 'harness/cli/gate.ts'),
      '--base', '6.1', '--candidate', 'src:6.1', '--scenario', 'integrity/001*', '--keep-disks', '--jobs', '1', '--results', root],
    { cwd: repoRoot(), reject: false, all: true });
    runDir = join(root, 'latest');
    const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Summary;
    expect(s.gate?.compat, r.all).toEqual(STACKS);
    const compat = s.cells.filter((c) => c.gate?.role === 'compat');
    expect(compat.map((c) => `${c.kernel} ${c.scenario} ${c.verdict}`).sort(), r.all).toEqual(
      STACKS.flatMap((id) => [`base→candidate ${id} pass`, `candidate→base ${id} pass`]).sort());
    for (const c of compat) {
      // the reader really booted and read: its steps say the writes were the other kernel's
      const steps = readFileSync(join(runDir, c.dir, 'steps.jsonl'), 'utf8');
      expect(steps).toContain('written by the other kernel');
      expect(steps).toMatch(/"argv":\["ih-io","read"/);
      // its reader ran in a guest of the reader's kernel: shared with other phases (--share-guest, the default
      // here), whose log lists it, or of its own, booted for it
      const reader = s.kernels.find((k) => k.spec === c.kernelSpec)!.label!;
      if (c.guest !== undefined) {
        expect(c.guest.startsWith(`guests/${reader}-`), c.guest).toBe(true);
        const ran = (JSON.parse(readFileSync(join(runDir, c.guest, 'guest.json'), 'utf8')) as { ran: Array<{ id: string }> }).ran;
        expect(ran.map((r) => r.id)).toContain(c.id);
      } else {
        expect(c.bootMs).toBeGreaterThan(0);
      }
    }
    expect(r.exitCode, r.all).toBe(0);
  });

  it('fails the reader when a byte of what the writer left has changed', { timeout: 600_000 }, async () => {
    expect(runDir, 'needs the run of the test before').not.toBe('');
    const written = join(runDir, 'cells', 'base_candidate__compat_integrity-crc32c-journal', 'write', 'disks', 'data.img');
    const geom = integrityGeometry(parseIntegritySuperblock(await readAt(written, 0, SB_BYTES), 'written image'));
    const at = corruptionOffset(geom, 5, 'data');
    await writeAt(written, at, Buffer.from([(await readAt(written, at, 1))[0]! ^ 0xff]));
    const gk = await prepareGuestKernel('src:6.1');
    const dir = join(root, 'flipped');
    await mkdir(dir, { recursive: true });
    const scenario = await loadScenario(join(repoRoot(), 'harness/gate/compat/integrity-crc32c-journal.yaml'), join(repoRoot(), 'harness/gate'));
    const res = await runCell({
      id: 'flipped', dir, scenario, kernel: gk.kernel, image: gk.image, accel: 'tcg', bootTimeoutMs: 120_000, memoryMb: 768, cpus: 1,
      keepDisks: false, phase: 'read', seedDisks: { data: written },
    });
    expect(res.bootMs, res.reason).toBeGreaterThan(0);
    expect(res.verdict, res.reason).toBe('fail');
    expect(res.disagreements.some((d) => d.block === 5 || d.kind.startsWith('audit')), JSON.stringify(res.disagreements)).toBe(true);
  });
});
