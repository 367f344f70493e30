/**
 * Where the blunt crash variant kills QEMU: during which workload write and how long after the host sent
 * it, drawn from a seed so a scenario (and a rerun of it) kills at the same point of its workload. The
 * guest's timing under TCG is not deterministic, so the host records whether that operation had returned
 * when the kill landed, and the model judges from that.
 *
 * What a SIGKILL of QEMU loses: the disks are raw images with cache=writeback and aio=threads, so QEMU
 * completes a guest write only after its pwrite() returned; the bytes are then in the host's page cache,
 * which outlives QEMU (the host kernel did not crash), and the next QEMU reads them. Nothing the virtio
 * disk acknowledged is lost. What the guest held in its own memory is: dm-integrity's journal acknowledges
 * a write once it is in the in-memory journal and commits it at the next flush/FUA (or its commit timer),
 * and its bufio metadata cache (tags in direct and bitmap mode) is written back lazily. So a write that
 * returned but was not yet flushed may be old or new after the kill, exactly as after a power cut, and the
 * model is the power-cut model: durable = FUA write that returned, or write that returned before a flush
 * that returned. Writes in flight at the kill may be partly on the image (some of the guest's bios
 * pwritten, others not): every issued write is a candidate for each of its blocks, which covers that.
 */
import type { CrashOp } from '../scenario/schema.ts';
import type { WorkloadProgress } from '../model/crash/consistency.ts';
import { seededRandom } from './replay.ts';

export interface KillPoint {
  /** index of the workload operation during which QEMU is killed (always a write) */
  op: number;
  /** ms after the host sent that operation to the guest */
  delayMs: number;
}

/** The seed picks a write uniformly and a delay in [minMs, maxMs). */
export function chooseKillPoint(workload: CrashOp[], seed: number, window: { minMs: number; maxMs: number }): KillPoint {
  const writes = workload.flatMap((op, i) => (op === 'flush' ? [] : [i]));
  if (writes.length === 0) throw new RangeError('a kill workload needs at least one write');
  if (!(window.minMs >= 0 && window.maxMs > window.minMs)) throw new RangeError(`kill window ${window.minMs}..${window.maxMs} ms is empty`);
  const rand = seededRandom(`ih-kill#${seed}`);
  const op = writes[Math.floor(rand() * writes.length)]!;
  const delayMs = Math.floor(window.minMs + rand() * (window.maxMs - window.minMs));
  return { op, delayMs };
}

/**
 * How far the workload had got when QEMU died: operations before `op` had returned; `op` itself had
 * returned only if the host saw its reply before the kill (a reply still in the pipe counts as not
 * returned, which only widens what the model allows).
 */
export function progressAtKill(op: number, returned: boolean): WorkloadProgress {
  return { completed: op + (returned ? 1 : 0), issued: op + 1 };
}
