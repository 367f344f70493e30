import { describe, expect, it } from 'vitest';
import { AgentTimeoutError } from '../../../vm/agent/client.ts';
import { StepHang } from '../../verdict/failures.ts';
import { GuestWorker, IllegalWorkerTransition, type WorkerVm } from './guest-worker.ts';

/** A QEMU stand-in that records what the worker asked of it. */
class FakeVm implements WorkerVm {
  state = 'booting';
  readonly calls: string[] = [];
  constructor(private readonly boots: 'ok' | 'timeout' = 'ok') {}
  async waitReady(timeoutMs: number): Promise<{ kernelRelease: string }> {
    this.calls.push(`waitReady ${timeoutMs}`);
    if (this.boots === 'timeout') throw new AgentTimeoutError('READY', timeoutMs);
    this.state = 'ready';
    return { kernelRelease: '6.1.0-fake' };
  }
  async powerOff(timeoutMs: number): Promise<void> {
    this.calls.push(`powerOff ${timeoutMs}`);
    this.state = 'exited';
  }
  async kill(): Promise<void> {
    this.calls.push('kill');
    this.state = 'exited';
  }
}

const timeouts = { startMs: 1234, stopMs: 567 };
const states = (w: GuestWorker) => w.history.map((h) => h.state);

describe('the guest worker lifecycle', () => {
  it('boots within the start timeout, runs scenarios one after another, and powers off within the stop timeout', async () => {
    const vm = new FakeVm();
    const w = new GuestWorker(vm, timeouts);
    expect(w.state).toBe('booting');
    const booted = await w.boot();
    expect(booted.kernelRelease).toBe('6.1.0-fake');
    expect(booted.bootMs).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 3; i++) {
      w.begin();
      expect(w.state).toBe('running');
      w.end();
    }
    await w.retire();
    expect(states(w)).toEqual(['booting', 'ready', 'running', 'ready', 'running', 'ready', 'running', 'ready', 'retiring', 'closed']);
    expect(vm.calls).toEqual(['waitReady 1234', 'powerOff 567']);
  });

  it('turns a boot that never reaches the agent into the boot\'s hang, stays booting, and is killed when retired', async () => {
    const vm = new FakeVm('timeout');
    const w = new GuestWorker(vm, timeouts);
    const err = await w.boot().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepHang);
    expect((err as Error).message).toMatch(/within 1.234s of boot/);
    expect(w.state).toBe('booting');
    await w.retire();
    expect(vm.calls).toEqual(['waitReady 1234', 'kill']);
    expect(states(w)).toEqual(['booting', 'retiring', 'closed']);
  });

  it('kills a worker retired while a scenario runs, or when asked to', async () => {
    const running = new GuestWorker(new FakeVm(), timeouts);
    await running.boot();
    running.begin();
    await running.retire();
    expect((running.vm as FakeVm).calls.at(-1)).toBe('kill');

    const ready = new GuestWorker(new FakeVm(), timeouts);
    await ready.boot();
    await ready.retire('kill');
    expect((ready.vm as FakeVm).calls.at(-1)).toBe('kill');
  });

  it('kills a ready worker whose QEMU already left the ready state (a power-off cannot reach its agent)', async () => {
    const vm = new FakeVm();
    const w = new GuestWorker(vm, timeouts);
    await w.boot();
    vm.state = 'exited';
    await w.retire();
    expect(vm.calls.at(-1)).toBe('kill');
  });

  it('ends a power-off that failed in a kill, and retiring a closed worker does nothing', async () => {
    const vm = new FakeVm();
    vm.powerOff = async () => {
      vm.calls.push('powerOff');
      throw new Error('QMP gone');
    };
    const w = new GuestWorker(vm, timeouts);
    await w.boot();
    await expect(w.retire()).rejects.toThrow(/QMP gone/);
    expect(w.state).toBe('retiring');
    await w.retire();
    expect(w.state).toBe('closed');
    await w.retire();
    expect(vm.calls).toEqual(['waitReady 1234', 'powerOff', 'kill']);
  });

  it('swaps the QEMU beneath a running scenario (a kill step\'s second boot), and only then', async () => {
    const w = new GuestWorker<FakeVm>(new FakeVm(), timeouts);
    const second = new FakeVm();
    await second.waitReady(99); // the kill step boots it before handing it over
    expect(() => w.replace(second)).toThrow(IllegalWorkerTransition);
    await w.boot();
    w.begin();
    w.replace(second);
    expect(w.vm).toBe(second);
    w.end();
    await w.retire();
    expect(second.calls).toEqual(['waitReady 99', 'powerOff 567']);
  });

  it('throws on every transition the table does not allow', async () => {
    const w = new GuestWorker(new FakeVm(), timeouts);
    expect(() => w.begin()).toThrow(/booting -> running is not a transition/);
    expect(() => w.end()).toThrow(/end while booting/);
    await w.boot();
    await expect(w.boot()).rejects.toThrow(/boot while ready/);
    expect(() => w.end()).toThrow(/end while ready/);
    w.begin();
    expect(() => w.begin()).toThrow(/running -> running/);
    w.end();
    await w.retire();
    expect(() => w.begin()).toThrow(/closed -> running/);
    expect(() => w.end()).toThrow(IllegalWorkerTransition);
    await expect(w.boot()).rejects.toThrow(IllegalWorkerTransition);
  });
});
