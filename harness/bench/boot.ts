/**
 * Boot cost: the bare kernel boot (QEMU + the same kernel + a trivial busybox init that powers off at once)
 * beside the harness's boot to a ready agent (its full initramfs, modules, agent handshake) and power-off.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { gzipSync } from 'node:zlib';
import { Guest } from '../../vm/qemu/guest.ts';
import { qemuArgs, type Accel } from '../../vm/qemu/args.ts';
import type { GuestKernel } from '../test/guest-fixture.ts';

export interface BootBench {
  bareMs: number[];
  agentReadyMs: number[];
  /** median agent-ready / median bare: the goal is <= 1.2 */
  ratio: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function trivialInitramfs(dir: string): Promise<string> {
  const root = join(dir, 'bare-root');
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
  await writeFile(join(root, 'init'), '#!/bin/busybox sh\n/bin/busybox echo ih-bare-ready\n/bin/busybox reboot -f\n');
  await chmod(join(root, 'init'), 0o755);
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  const cpio = await execa('sh', ['-c', 'find . | cpio -o -H newc -R 0:0 --quiet'], { cwd: root, encoding: 'buffer' });
  const out = join(dir, 'bare.cpio.gz');
  await writeFile(out, gzipSync(Buffer.from(cpio.stdout as Uint8Array)));
  return out;
}

/** Wall time from QEMU start to its exit with the trivial init (which reboots, ending QEMU under -no-reboot). */
async function bareBoot(gk: GuestKernel, initrd: string, dir: string, accel: Accel): Promise<number> {
  const args = qemuArgs({ kernel: gk.kernel.bootImage, initrd, accel, memoryMb: 512, cpus: 1, consoleLog: join(dir, 'bare-console.log'), disks: [] });
  const t = Date.now();
  await execa('qemu-system-x86_64', args, { stdin: 'ignore', timeout: 120_000 });
  return Date.now() - t;
}

/** Wall time from QEMU start to the agent's READY plus power-off, the same two ends as the bare boot. */
async function agentBoot(gk: GuestKernel, dir: string, accel: Accel): Promise<number> {
  const t = Date.now();
  const g = Guest.start({ kernel: gk.kernel.bootImage, initrd: gk.image.path, accel, memoryMb: 512, cpus: 1, consoleLog: join(dir, 'agent-console.log'), disks: [] });
  try {
    await g.waitReady(120_000);
    await g.powerOff(30_000);
  } finally {
    await g.kill();
  }
  return Date.now() - t;
}

export async function benchBoot(gk: GuestKernel, dir: string, accel: Accel, runs = 3): Promise<BootBench> {
  const initrd = await trivialInitramfs(dir);
  const bareMs: number[] = [];
  const agentReadyMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    bareMs.push(await bareBoot(gk, initrd, dir, accel));
    agentReadyMs.push(await agentBoot(gk, dir, accel));
  }
  return { bareMs, agentReadyMs, ratio: median(agentReadyMs) / median(bareMs) };
}
