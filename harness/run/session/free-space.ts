/**
 * Free space on the host's file systems, checked before a run and before each guest boots: a full results
 * file system otherwise shows up mid-scenario as a VM that QEMU paused (werror=stop), or as a truncated
 * file, long after the cause. Disk images are sparse: what a guest may write is its scenario's disks.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { InfraError } from '../../errors.ts';

const MiB = 1024 * 1024;

/** Room for console logs, step logs, reports and QEMU's own files beside the disk images. */
export const SPACE_MARGIN = 64 * MiB;

/** What a run needs before any cell: its results and the cache (kernels, initramfs, guest tools). */
export const RUN_SPACE = 256 * MiB;

export interface SpaceNeed {
  /** a directory (created when missing) */
  path: string;
  bytes: number;
  /** what lives there, for the message: "results", "cache", "disk images of integrity/001" */
  what: string;
}

export async function freeBytes(path: string): Promise<number> {
  const st = await statfs(path);
  return Number(st.bavail) * Number(st.bsize);
}

/** Throws an InfraError naming the path, what is free and what is needed, for the first need not met. */
export async function checkFreeSpace(needs: SpaceNeed[]): Promise<void> {
  for (const n of needs) {
    await mkdir(n.path, { recursive: true });
    const free = await freeBytes(n.path);
    if (free < n.bytes) {
      throw new InfraError(`not enough free space for the ${n.what} in ${n.path}: ${mib(free)} free on its file system, ${mib(n.bytes)} needed; free some space or point the run elsewhere`);
    }
  }
}

/** Bytes one scenario's disks may come to (every image written in full), with the margin. */
export function scenarioSpace(disks: Array<{ size: number }>, transfer: { payloadSize: number; outSize: number }): number {
  return disks.reduce((t, d) => t + d.size, 0) + transfer.payloadSize + transfer.outSize + SPACE_MARGIN;
}

function mib(n: number): string {
  return `${(n / MiB).toFixed(1)} MiB`;
}
