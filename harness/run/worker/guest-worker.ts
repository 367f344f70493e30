/**
 * The lifecycle of one guest worker (one QEMU), whether it runs one scenario (run-cell.ts) or sixteen
 * (share/shared-guest.ts). Its states, in order:
 *
 *   booting  QEMU started, waiting for the agent (within the start timeout)
 *   ready    the agent answered; no scenario is running (after boot, and between scenarios)
 *   running  a scenario's stack and steps are running (a kill step may swap the QEMU beneath: replace())
 *   retiring powering off (within the stop timeout) or being killed
 *   closed   QEMU has ended
 *
 * A transition the table does not allow is a harness bug and throws IllegalWorkerTransition. The worker knows
 * nothing of verdicts: the caller classifies what boot() and the scenario threw.
 */
import { InfraError } from '../../errors.ts';
import { bootGuest } from '../session/cell.ts';

export type WorkerState = 'booting' | 'ready' | 'running' | 'retiring' | 'closed';

const NEXT: Record<WorkerState, readonly WorkerState[]> = {
  booting: ['ready', 'retiring'],
  ready: ['running', 'retiring'],
  running: ['ready', 'retiring'],
  retiring: ['closed'],
  closed: [],
};

export class IllegalWorkerTransition extends InfraError {
  override name = 'IllegalWorkerTransition';
}

/** The QEMU beneath a worker as the lifecycle drives it: vm/qemu/guest.ts's Guest, or a fake in unit tests. */
export interface WorkerVm {
  /** QEMU's own state; 'ready' once the agent answered, 'exited' once QEMU ended */
  readonly state: string;
  waitReady(timeoutMs: number): Promise<{ kernelRelease: string }>;
  /** a clean power-off, killing QEMU when it has not ended after timeoutMs */
  powerOff(timeoutMs: number): Promise<unknown>;
  kill(): Promise<unknown>;
}

/** How long a clean power-off may take before QEMU is killed. */
export const STOP_TIMEOUT_MS = 15_000;

export interface WorkerTimeouts {
  /** from QEMU's start to the agent's first answer */
  startMs: number;
  /** from the power-off request to QEMU's end, after which QEMU is killed */
  stopMs: number;
}

/** Every state the worker entered, with the milliseconds since it was created (guest.json's `lifecycle`). */
export type WorkerHistory = Array<{ state: WorkerState; atMs: number }>;

export class GuestWorker<V extends WorkerVm = WorkerVm> {
  private current: WorkerState = 'booting';
  private readonly created = Date.now();
  readonly history: WorkerHistory = [{ state: 'booting', atMs: 0 }];

  constructor(private guest: V, readonly timeouts: WorkerTimeouts) {}

  get state(): WorkerState {
    return this.current;
  }

  /** The QEMU the worker drives now (after a kill step, the one booted in its place). */
  get vm(): V {
    return this.guest;
  }

  /**
   * Waits for the agent within the start timeout (a guest that never answers is the boot's StepHang). On
   * failure the worker stays booting: the caller retires it.
   */
  async boot(): Promise<{ kernelRelease: string; bootMs: number }> {
    this.expect('boot', 'booting');
    const started = Date.now();
    const { kernelRelease } = await bootGuest(this.guest, this.timeouts.startMs);
    this.to('ready');
    return { kernelRelease, bootMs: Date.now() - started };
  }

  /** A scenario starts on this worker. */
  begin(): void {
    this.to('running');
  }

  /** The scenario's steps ended and the guest may take the next one. */
  end(): void {
    this.expect('end', 'running');
    this.to('ready');
  }

  /** A kill step ended QEMU and booted another on the same disks: the scenario goes on in that one. */
  replace(next: V): void {
    this.expect('replace', 'running');
    this.guest = next;
  }

  /**
   * Ends QEMU: a ready worker powers off within the stop timeout (`kill` forces a kill), any other is killed.
   * A power-off that failed (retiring) ends in a kill; a closed worker stays closed.
   */
  async retire(how: 'power-off' | 'kill' = 'power-off'): Promise<void> {
    if (this.current === 'closed') return;
    if (this.current === 'retiring') {
      await this.guest.kill();
      this.to('closed');
      return;
    }
    const clean = how === 'power-off' && this.current === 'ready' && this.guest.state === 'ready';
    this.to('retiring');
    if (clean) await this.guest.powerOff(this.timeouts.stopMs);
    else await this.guest.kill();
    this.to('closed');
  }

  private expect(what: string, state: WorkerState): void {
    if (this.current !== state) throw new IllegalWorkerTransition(`guest worker: ${what} while ${this.current} (only while ${state})`);
  }

  private to(next: WorkerState): void {
    if (!NEXT[this.current].includes(next)) throw new IllegalWorkerTransition(`guest worker: ${this.current} -> ${next} is not a transition`);
    this.current = next;
    this.history.push({ state: next, atMs: Date.now() - this.created });
  }
}
