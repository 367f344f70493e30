import { describe, expect, it } from 'vitest';
import { AgentTimeoutError } from '../../vm/agent/client.ts';
import type { Observation } from '../run/session/observations.ts';
import { stdoutRecord } from '../run/session/cell.ts';
import { NotReplayable, ObservationCursor, ReplayGuest, ReplayImages } from './replay.ts';

const cmd = (argv: string[], extra: Partial<Extract<Observation, { t: 'cmd' }>> = {}): Observation =>
  ({ t: 'cmd', step: 0, argv, exitCode: 0, signal: null, durationMs: 3, stdout: 'out', stderr: '', ...extra });

describe('a replayed guest', () => {
  it('answers each command as the run recorded it, in order, skipping the step marks', async () => {
    const g = new ReplayGuest(new ObservationCursor([{ t: 'begin', step: 0, kind: 'setup' }, cmd(['uname', '-r'], { stdout: '6.1.0\n' }), cmd(['false'], { exitCode: 1 })]));
    expect((await g.exec(['uname', '-r'])).stdout.toString()).toBe('6.1.0\n');
    expect((await g.exec(['false'])).exitCode).toBe(1);
  });

  it('gives back a binary stdout byte for byte (a read-back through dd), and text as text', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xc3, 0x28, 0x41, 0x80]);
    expect(Buffer.from(bytes.toString()).equals(bytes)).toBe(false);
    const rec = stdoutRecord(bytes);
    expect(rec).toEqual({ stdout: '', stdoutHex: '00ffc3284180' });
    expect(stdoutRecord(Buffer.from('6.1.0 é\n'))).toEqual({ stdout: '6.1.0 é\n' });
    const g = new ReplayGuest(new ObservationCursor([cmd(['dd', 'if=/dev/mapper/ih-try'], rec)]));
    expect((await g.exec(['dd', 'if=/dev/mapper/ih-try'])).stdout.equals(bytes)).toBe(true);
  });

  it('stops when the current code runs another command, gives other input, or asks for more than was recorded', async () => {
    const g = new ReplayGuest(new ObservationCursor([cmd(['dmsetup', 'status']), cmd(['tee', 'k'], { stdinHex: '00' })]));
    await expect(g.exec(['dmsetup', 'table'])).rejects.toThrow(/runs 'dmsetup table' where the run ran 'dmsetup status'/);
    await expect(new ReplayGuest(new ObservationCursor([cmd(['tee', 'k'], { stdinHex: '00' })])).exec(['tee', 'k'], { stdin: Buffer.from([1]) })).rejects.toThrow(/other input/);
    await expect(new ReplayGuest(new ObservationCursor([])).exec(['true'])).rejects.toBeInstanceOf(NotReplayable);
  });

  it('fails a command the way the agent failed it in the run', async () => {
    const g = new ReplayGuest(new ObservationCursor([cmd(['ih-io', 'read'], { exitCode: null, failed: { kind: 'timeout', message: 'no answer' } })]));
    await expect(g.exec(['ih-io', 'read'])).rejects.toBeInstanceOf(AgentTimeoutError);
  });
});

describe('replayed host images', () => {
  const roles = new Map([['data', '/run/cell/disks/data.img']]);
  it('give back the bytes a small read kept and refuse a read the run kept only as a digest', async () => {
    const images = new ReplayImages(new ObservationCursor([
      { t: 'image-read', step: -1, image: 'data', offset: 0, length: 2, sha256: 'x', hex: 'abcd' },
      { t: 'image-read', step: -1, image: 'data', offset: 0, length: 1 << 20, sha256: 'y' },
    ]), roles, '/nonexistent');
    expect(await images.readAt('/run/cell/disks/data.img', 0, 2)).toEqual(Buffer.from([0xab, 0xcd]));
    await expect(images.readAt('/run/cell/disks/data.img', 0, 1 << 20)).rejects.toThrow(/kept only the digest of data at 0\+1048576/);
  });

  it('stop at a read elsewhere than the run read, and at an audit whose image was not kept', async () => {
    const images = new ReplayImages(new ObservationCursor([
      { t: 'image-read', step: 2, image: 'data', offset: 512, length: 1, sha256: 'x', hex: '00' },
      { t: 'image-audit', step: 5, image: 'data' },
    ]), roles, '/nonexistent');
    await expect(images.readAt('/run/cell/disks/data.img', 513, 1)).rejects.toThrow(/step 2: the current code reads data at 513\+1 where the run read data at 512\+1/);
    await expect(images.wholeImage('/run/cell/disks/data.img')).rejects.toThrow(/raw-disk audit of data needs the image/);
  });

  it('give back the host work the run recorded (a crash step\'s log, a crash point\'s audit) without doing it, and stop at other work', async () => {
    const points = [{ kind: 'flush' as const, entries: '0..4', completed: 1, issued: 2 }];
    const images = new ReplayImages(new ObservationCursor([
      { t: 'crash-log', step: 1, entries: 12, points },
      { t: 'crash-audit', step: 1, where: 'crash point 0', disagreements: [] },
    ]), roles, '/nonexistent');
    const never = async (): Promise<never> => { throw new Error('the host work ran in a replay'); };
    expect(await images.hostWork('crash-log', never)).toEqual({ entries: 12, points });
    await expect(images.hostWork('crash-base', never)).rejects.toThrow(/step 1: the current code needs the host's crash-base .* where the run recorded the raw-disk audit at crash point 0/);
  });

  it('refuses a crash point\'s read-back recorded block by block (`blocks`), saying to run the scenario again', async () => {
    const images = new ReplayImages(new ObservationCursor([
      { t: 'begin', step: 1, kind: 'crash' },
      { t: 'blocks', step: 1, image: 'out', offset: 0, blockSize: 512, blocks: [{ sha256: '0'.repeat(32) }] },
    ]), roles, '/nonexistent');
    const never = async (): Promise<never> => { throw new Error('the host work ran in a replay'); };
    await expect(images.hostWork('crash-readback', never)).rejects.toThrow(NotReplayable);
    await expect(images.hostWork('crash-readback', never)).rejects.toThrow(/step 1: the run recorded a crash point's read-back block by block .* run the scenario again/);
  });
});
