/** The device checks' pure judges, fed doctored ih-io reports: what the kernel's device must be judged as. */
import { describe, expect, it } from 'vitest';
import { KernelFailure } from '../../verdict/failures.ts';
import { judgeDeviceOpen, judgeGeometry } from './io-refusal.ts';

const top = { dev: '/dev/mapper/ih-int', bytes: 1024 * 4096, blockSize: 4096 };
const setup = (path: string, errno: number, error: string) =>
  Buffer.from(`${JSON.stringify({ op: 'setup', what: 'open', path, errno, error, ok: false })}\n`);

describe('judgeGeometry', () => {
  it('agrees with the model\'s device, and names each of size and block size that differs', () => {
    expect(judgeGeometry(3, top, { size: top.bytes, logicalBlockSize: 4096 })).toEqual({ disagreements: [], found: [] });
    const j = judgeGeometry(3, top, { size: top.bytes - 4096, logicalBlockSize: 512 });
    expect(j.disagreements.map((d) => [d.step, d.kind, d.found])).toEqual([[3, 'device-size', `${top.bytes - 4096} bytes`], [3, 'logical-block-size', '512']]);
    expect(j.found).toEqual([`size ${top.bytes - 4096} bytes, the model says ${top.bytes}`, 'logical block size 512, the model says 4096']);
  });
});

describe('judgeDeviceOpen', () => {
  it('makes an EIO open of the top device the kernel\'s failure', () => {
    const j = judgeDeviceOpen(2, top, setup(top.dev, 5, 'Input/output error'), 'ih-io read exited 3: x');
    expect(j?.disagreement).toEqual({ step: 2, kind: 'device-open', expected: `${top.dev} opens`, found: 'open failed with errno 5 (Input/output error)' });
    expect(j?.failure).toBeInstanceOf(KernelFailure);
    expect(j?.failure.message).toBe(`the kernel failed open of ${top.dev} with Input/output error: ih-io read exited 3: x`);
  });

  it('leaves an errno a wrong argument gives, another device, or no report to the harness', () => {
    expect(judgeDeviceOpen(2, top, setup(top.dev, 22, 'Invalid argument'), 'm')).toBeUndefined();
    expect(judgeDeviceOpen(2, top, setup('/dev/vdb', 5, 'Input/output error'), 'm')).toBeUndefined();
    expect(judgeDeviceOpen(2, top, Buffer.from('not json\n'), 'm')).toBeUndefined();
  });
});
