/**
 * ih-io exits 2 when it refuses a request (a range beyond the device's end, a length that is not a multiple
 * of the logical block size) and 3 when it cannot open or size a device. On the top of a stack the kernel
 * built, the device's size and logical block size are the kernel's answers and the model knows what they
 * must be; an open the kernel fails with EIO is the kernel's answer too. Those are disagreements (`fail`,
 * naming what was seen). Anything else is the harness's own mistake: an argument it built wrong (`error`).
 */
import { parseIoReport, type ExecResult } from '../../../vm/agent/client.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { InfraError } from '../../errors.ts';
import type { GuestSession } from './cell.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { Disagreement } from '../../verdict/types.ts';

/** errnos an open of a device-mapper device gets from the kernel's I/O path, never from a wrong argument */
const KERNEL_OPEN_ERRNOS = new Set([5 /* EIO */, 6 /* ENXIO */, 61 /* ENODATA */, 84 /* EILSEQ */]);

export interface TopDevice {
  /** the stack's top device in the guest, e.g. /dev/mapper/ih-int */
  dev: string;
  /** its size as the model has it (provided data sectors x 512) */
  bytes: number;
  /** its logical block size as the model has it (the stack's sector size) */
  blockSize: number;
}

/**
 * For an ih-io run on `top` that exited 2 or 3: the error to throw. A KernelFailure (after recording the
 * disagreement) when the kernel's device is not what the model says, or its open failed with an I/O error;
 * otherwise an InfraError with ih-io's message.
 */
export async function ioToolFailure(s: GuestSession, step: number, res: ExecResult, cmd: string, top: TopDevice): Promise<Error> {
  const message = `ih-io ${cmd} exited ${res.exitCode}: ${res.stderr.toString().trim()}`;
  const openFailed = (out: Buffer): Error | undefined => {
    const j = judgeDeviceOpen(step, top, out, message);
    if (j === undefined) return undefined;
    s.disagree(j.disagreement);
    return j.failure;
  };
  const own = openFailed(res.stdout);
  if (own !== undefined) return own;
  // ask the device itself what it is: the refusal may come from a size or block size the kernel got wrong
  const info = await s.run(ioArgv({ cmd: 'info', dev: top.dev }));
  if (info.exitCode !== 0) return openFailed(info.stdout) ?? new InfraError(message);
  let seen;
  try {
    seen = parseIoReport(info.stdout).info;
  } catch {
    return new InfraError(message);
  }
  if (seen === undefined) return new InfraError(message);
  const j = judgeGeometry(step, top, seen);
  j.disagreements.forEach((d) => s.disagree(d));
  if (j.found.length === 0) return new InfraError(message);
  return new KernelFailure(`${top.dev} is not the device the model describes (${j.found.join('; ')}): ${message}`);
}

/**
 * ih-io's report of a setup that failed: when the kernel failed the open of the top device with an errno only
 * its I/O path gives, the disagreement and the failure to throw; undefined when it is not the kernel's answer.
 */
export function judgeDeviceOpen(step: number, top: TopDevice, out: Buffer, message: string): { disagreement: Disagreement; failure: KernelFailure } | undefined {
  let setup;
  try {
    setup = parseIoReport(out).setupError;
  } catch {
    return undefined;
  }
  if (setup === undefined || setup.path !== top.dev || !KERNEL_OPEN_ERRNOS.has(setup.errno)) return undefined;
  return {
    disagreement: { step, kind: 'device-open', expected: `${top.dev} opens`, found: `${setup.what} failed with errno ${setup.errno} (${setup.error ?? '?'})` },
    failure: new KernelFailure(`the kernel failed ${setup.what} of ${top.dev} with ${setup.error ?? `errno ${setup.errno}`}: ${message}`),
  };
}

/**
 * The device's size and logical block size against the model's: a disagreement for each that differs, and
 * the same in words for a failure's message. Pure: the step records what this returns.
 */
export function judgeGeometry(step: number, top: TopDevice, seen: { size: number; logicalBlockSize: number }): { disagreements: Disagreement[]; found: string[] } {
  const disagreements: Disagreement[] = [];
  const found: string[] = [];
  if (seen.size !== top.bytes) {
    disagreements.push({ step, kind: 'device-size', expected: `${top.bytes} bytes (${top.bytes / 512} sectors, the model)`, found: `${seen.size} bytes` });
    found.push(`size ${seen.size} bytes, the model says ${top.bytes}`);
  }
  if (seen.logicalBlockSize !== top.blockSize) {
    disagreements.push({ step, kind: 'logical-block-size', expected: `${top.blockSize} (the model)`, found: String(seen.logicalBlockSize) });
    found.push(`logical block size ${seen.logicalBlockSize}, the model says ${top.blockSize}`);
  }
  return { disagreements, found };
}

/**
 * After each activation: the top device's size and logical block size as the kernel gives them, against the
 * model. A device that accepts I/O the stack cannot serve (a 4 KiB-sector stack announcing 512-byte blocks)
 * would pass every aligned request the scenario makes and fail a file system's; it is a disagreement now.
 */
export async function checkTopDevice(s: GuestSession, step: number, top: TopDevice): Promise<void> {
  const info = await s.run(ioArgv({ cmd: 'info', dev: top.dev }));
  if (info.exitCode !== 0) throw (await ioToolFailure(s, step, info, 'info', top));
  const seen = parseIoReport(info.stdout).info;
  if (seen === undefined) throw new InfraError(`ih-io info ${top.dev} reported no geometry`);
  judgeGeometry(step, top, seen).disagreements.forEach((d) => s.disagree(d));
}
