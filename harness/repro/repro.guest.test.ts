/**
 * The reproducers, proven in the guest they were made for: each failing cell's `repro/` is copied into a
 * fresh guest (through the agent: the initramfs has busybox sh, the tools and ih-io), given the guest's
 * empty virtio disk by IH_DISK_<name>, and run. On the kernel the run failed on it must show the bug; on
 * clean linux-source-6.1 it must exit 0.
 *  - the seed regression (scenarios/regressions/4.13-bio-integrity-endio.patch): crypt/001 crashes; the
 *    reproducer's first O_DIRECT read through dm-crypt AEAD oopses the guest again;
 *  - a silent acceptance (fixtures/dm-integrity-skip-tag-compare.patch: reads never compare tags):
 *    integrity/001 fails (the model expects EILSEQ for the corrupted blocks); the reproducer exits 1.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentClosedError, type ExecResult } from '../../vm/agent/client.ts';
import { repoRoot } from '../../vm/cache.ts';
import { Guest } from '../../vm/qemu/guest.ts';
import { createImage } from '../run/session/disks.ts';
import type { Summary } from '../results.ts';
import { prepareGuestKernel, type GuestKernel } from '../test/guest-fixture.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-repro-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SEED = join(repoRoot(), 'scenarios/regressions/4.13-bio-integrity-endio.patch');
const SKIP = join(repoRoot(), 'harness/repro/fixtures/dm-integrity-skip-tag-compare.patch');

/** One matrix run: src:6.1 with each patch, both scenarios (the two other cells pass: neither patch touches them). */
async function matrixRun() {
  const results = join(root, 'run');
  const r = await execa('node', [
    '--import', 'tsx', join(repoRoot(), 'harness/cli/matrix.ts'),
    '--kernel', 'src:6.1', '--patch', SEED, '--kernel', 'src:6.1', '--patch', SKIP,
    '--scenario', 'crypt/001-*', '--scenario', 'integrity/001-*', '--jobs', '2', '--results', results,
  ], { cwd: repoRoot(), reject: false, all: true });
  const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
  const cell = (patch: number, scenario: string) => {
    const k = s.kernels[patch]!;
    const c = s.cells.find((x) => x.kernel === k.label && x.scenario === scenario);
    if (c === undefined) throw new Error(`no cell ${k.label}/${scenario} in the run:\n${r.all}`);
    return { cell: c, dir: join(results, 'latest', c.dir), bootImage: k.bootImage!, all: r.all };
  };
  return { seed: cell(0, 'crypt/001-gcm-read-after-write'), skip: cell(1, 'integrity/001-crc32c-journal-corrupt') };
}

let run: Promise<Awaited<ReturnType<typeof matrixRun>>> | undefined;
const failingCells = () => (run ??= matrixRun());

interface ReproRun {
  exec?: ExecResult;
  closed: boolean;
  console: string;
}

/** Boots a fresh guest with the scenario's disk (empty, as the harness starts it), copies repro/ in and runs it. */
async function runRepro(gk: GuestKernel, reproDir: string, disk: { name: string; size: number }, tag: string): Promise<ReproRun> {
  const dir = join(root, tag);
  mkdirSync(dir, { recursive: true });
  const consoleLog = join(dir, 'console.log');
  const image = await createImage(dir, disk.name, disk.size);
  const guest = Guest.start({
    kernel: gk.kernel.bootImage, initrd: gk.image.path, accel: 'tcg', memoryMb: 512, cpus: 1, consoleLog,
    disks: [{ path: image, serial: `ih-${disk.name}` }],
  });
  try {
    await guest.waitReady(120_000);
    const must = async (argv: string[], stdin?: Buffer) => {
      const x = await guest.exec(argv, { timeoutMs: 60_000, ...(stdin ? { stdin } : {}) });
      if (x.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${x.exitCode}: ${x.stderr.toString()}`);
      return x;
    };
    await must(['mkdir', '-p', '/tmp/repro']);
    for (const f of readdirSync(reproDir)) await must(['sh', '-c', 'cat > "$1"', 'sh', `/tmp/repro/${f}`], readFileSync(join(reproDir, f)));
    const dev = (await must(['sh', '-c', `for d in /sys/block/vd*; do [ "$(cat $d/serial)" = ih-${disk.name} ] && echo /dev/\${d##*/}; done`])).stdout.toString().trim();
    expect(dev).toMatch(/^\/dev\/vd[a-z]+$/);
    let exec: ExecResult | undefined;
    let closed = false;
    try {
      exec = await guest.exec(['env', `IH_DISK_${disk.name}=${dev}`, 'sh', '/tmp/repro/repro.sh'], { timeoutMs: 600_000 });
    } catch (e) {
      if (!(e instanceof AgentClosedError)) throw e;
      closed = true;
    }
    return { ...(exec ? { exec } : {}), closed, console: readFileSync(consoleLog, 'utf8') };
  } finally {
    await guest.kill();
  }
}

const said = (x: ReproRun) => `${x.exec?.stdout.toString() ?? ''}${x.exec?.stderr.toString().slice(-3000) ?? ''}\n--- console tail ---\n${x.console.slice(-3000)}`;

describe('reproducers generated from failing cells, run in fresh guests', () => {
  it('the seed regression: crashes on the patched kernel, exits 0 on clean src:6.1', { timeout: 3_600_000 }, async () => {
    const { seed } = await failingCells();
    expect(seed.cell.verdict, seed.all).toBe('crash');
    const repro = join(seed.dir, 'repro');
    expect(existsSync(join(repro, 'repro.sh')), readdirSync(repro).join(' ')).toBe(true);
    const disk = { name: 'data', size: 64 << 20 };

    const bad = await runRepro(await prepareGuestKernel(seed.bootImage), repro, disk, 'seed-patched');
    expect(bad.exec?.exitCode, said(bad)).not.toBe(0);
    const after = bad.console.slice(bad.console.indexOf('ih-repro: begin'));
    expect(bad.console, said(bad)).toContain('ih-repro: begin');
    expect(after, said(bad)).toMatch(/BUG: kernel NULL pointer dereference/);
    expect(after).toMatch(/bio_integrity/);

    const good = await runRepro(await prepareGuestKernel('src:6.1'), repro, disk, 'seed-clean');
    expect(good.exec?.exitCode, said(good)).toBe(0);
    expect(good.exec!.stdout.toString()).toContain('NOT REPRODUCED');
  });

  it('a silent acceptance: exits 1 naming the block on the kernel that skips the tag compare, 0 on clean src:6.1', { timeout: 3_600_000 }, async () => {
    const { skip } = await failingCells();
    expect(skip.cell.verdict, skip.all).toBe('fail');
    expect(skip.cell.signature).toBe('integrity/001-crc32c-journal-corrupt: silent-acceptance');
    const repro = join(skip.dir, 'repro');
    expect(existsSync(join(repro, 'repro.sh')), readdirSync(repro).join(' ')).toBe(true);
    const disk = { name: 'data', size: 64 << 20 };

    const bad = await runRepro(await prepareGuestKernel(skip.bootImage), repro, disk, 'skip-patched');
    expect(bad.exec?.exitCode, said(bad)).toBe(1);
    expect(bad.exec!.stdout.toString()).toMatch(/^REPRODUCED: step 5 read: silent-acceptance block 3 \(sector 3\): expected errno 84, found read succeeded/m);

    const good = await runRepro(await prepareGuestKernel('src:6.1'), repro, disk, 'skip-clean');
    expect(good.exec?.exitCode, said(good)).toBe(0);
    expect(good.exec!.stdout.toString()).toContain('NOT REPRODUCED');
  });
});
