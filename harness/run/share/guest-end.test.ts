/**
 * How a guest's end and a silent guest become verdicts: a reset nobody asked for is the kernel's crash, a
 * signal from outside or a stopped/paused QEMU is the host's error, a panic the guest image caused stays an
 * error; and ih-io's refusals on the kernel's own device are disagreements, not harness errors.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecResult } from '../../../vm/agent/client.ts';
import type { Guest, GuestExit } from '../../../vm/qemu/guest.ts';
import { InfraError } from '../../errors.ts';
import type { Scenario } from '../../scenario/load.ts';
import { GuestSession, hostSideOutcome, judgeCell } from '../session/cell.ts';
import { SILENT_RESET } from '../../verdict/execution.ts';
import { KernelFailure, type StepsOutcome } from '../../verdict/failures.ts';
import { checkFreeSpace } from '../session/free-space.ts';
import { ioToolFailure } from '../session/io-refusal.ts';

const spec = { scenario: { id: 'integrity/001' } as Scenario };
const gone: StepsOutcome = { verdict: 'error', reason: 'QEMU exited while the harness was talking to the guest', guestGone: true };
const exit = (over: Partial<GuestExit>): GuestExit => ({ exitCode: 0, signal: null, stderr: '', endedBy: 'guest', ...over });

function session(answers: ExecResult[] = []): GuestSession {
  const guest = {
    mark: async () => undefined,
    exec: async (argv: string[]) => ({ ...answers.shift()!, argv }),
  } as unknown as Guest;
  return new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-end-')), 'steps.jsonl'));
}

describe('judgeCell with how QEMU ended', () => {
  it('calls a reset the guest made by itself, with nothing on the console, a crash', () => {
    const j = judgeCell(spec, session(), gone, '[1.0] ih: step 3 read\n', '', exit({ shutdownReason: 'guest-reset' }));
    expect(j).toMatchObject({ verdict: 'crash', signature: SILENT_RESET });
    expect(j.reason).toMatch(/reset during the scenario .*guest-reset.* no oops or panic/);
  });
  it('keeps the oops as the signature when the console has one', () => {
    const j = judgeCell(spec, session(), gone, '[1.0] BUG: kernel NULL pointer dereference, address: 0000000000000000\n[1.0] RIP: 0010:f+0x1/0x2\n', '', exit({}));
    expect(j).toMatchObject({ verdict: 'crash', signature: 'BUG: kernel NULL pointer dereference @ f' });
  });
  it('calls a signal the harness did not send an error', () => {
    const j = judgeCell(spec, session(), gone, '', '', exit({ signal: 'SIGKILL', exitCode: null, endedBy: 'signal' }));
    expect(j.verdict).toBe('error');
    expect(j.reason).toMatch(/SIGKILL that the harness did not send/);
  });
  it('leaves a panic the guest image caused (no init) an error', () => {
    const j = judgeCell(spec, session(), gone, '[0.9] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n', '', exit({}));
    expect(j.verdict).toBe('error');
    expect(j.reason).toMatch(/VFS: Unable to mount root/);
  });
});

describe('hostSideOutcome', () => {
  const hang: StepsOutcome = { verdict: 'hang', reason: "'ih-io read' did not answer within 20s" };
  it('names the host when QEMU is stopped or paused, instead of a hang', async () => {
    const paused = { hostFault: async () => 'QEMU paused the guest on a host I/O error on /r/out.img (nospace)' } as unknown as Guest;
    expect(await hostSideOutcome(paused, hang)).toEqual({ verdict: 'error', reason: `QEMU paused the guest on a host I/O error on /r/out.img (nospace) (${hang!.reason})` });
  });
  it('keeps the hang when the VM runs', async () => {
    const running = { hostFault: async () => undefined } as unknown as Guest;
    expect(await hostSideOutcome(running, hang)).toBe(hang);
  });
});

describe('ioToolFailure', () => {
  const res = (over: Partial<ExecResult>): ExecResult => ({
    argv: [], exitCode: 2, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from('ih-io: --offset + --length 2097152 is beyond the end of /dev/mapper/ih-int (1048576 bytes)'),
    durationMs: 1, timedOut: false, reaped: true, execErrno: null, stdoutTruncated: false, stderrTruncated: false, ...over,
  });
  const top = { dev: '/dev/mapper/ih-int', bytes: 2 * 1024 * 1024 * 16, blockSize: 512 };
  it('makes a device smaller than the model says a fail, naming the size seen', async () => {
    const info = JSON.stringify({ op: 'info', path: top.dev, block_device: true, size: 1048576, logical_block_size: 4096, physical_block_size: 4096, read_only: false });
    const s = session([res({ exitCode: 0, stdout: Buffer.from(`${info}\n`), stderr: Buffer.alloc(0) })]);
    const e = await ioToolFailure(s, 3, res({}), 'read', top);
    expect(e).toBeInstanceOf(KernelFailure);
    expect(s.disagreements.map((d) => [d.kind, d.found])).toEqual([['device-size', '1048576 bytes'], ['logical-block-size', '4096']]);
  });
  it('makes an open the kernel fails with EIO a fail', async () => {
    const setup = JSON.stringify({ op: 'setup', ok: false, what: 'open', path: top.dev, errno: 5, error: 'EIO' });
    const s = session();
    const e = await ioToolFailure(s, 1, res({ exitCode: 3, stdout: Buffer.from(`${setup}\n`) }), 'read', top);
    expect(e).toBeInstanceOf(KernelFailure);
    expect(s.disagreements[0]).toMatchObject({ kind: 'device-open', found: 'open failed with errno 5 (EIO)' });
  });
  it('leaves a refusal on a device the model agrees with the harness\'s error', async () => {
    const info = JSON.stringify({ op: 'info', path: top.dev, block_device: true, size: top.bytes, logical_block_size: 512, physical_block_size: 512, read_only: false });
    const s = session([res({ exitCode: 0, stdout: Buffer.from(`${info}\n`), stderr: Buffer.alloc(0) })]);
    const e = await ioToolFailure(s, 3, res({}), 'read', top);
    expect(e).toBeInstanceOf(InfraError);
    expect(s.disagreements).toEqual([]);
  });
});

describe('checkFreeSpace', () => {
  it('names the path, what is free and what is needed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ih-space-'));
    await expect(checkFreeSpace([{ path: dir, bytes: 2 ** 60, what: 'results' }])).rejects.toThrow(new RegExp(`not enough free space for the results in ${dir}: [\\d.]+ MiB free on its file system, \\d+\\.\\d MiB needed`));
    await expect(checkFreeSpace([{ path: dir, bytes: 1, what: 'results' }])).resolves.toBeUndefined();
  });
});
