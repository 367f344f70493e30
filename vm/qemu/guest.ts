import { execa, type ResultPromise } from 'execa';
import { AgentClient, type ExecResult } from '../agent/client.ts';
import { qemuArgs, type QemuSpec } from './args.ts';

export type GuestState = 'booting' | 'ready' | 'stopping' | 'exited';

export interface GuestExit {
  exitCode: number | null;
  signal: string | null;
  /** QEMU's own stderr (its complaints about arguments, images, accelerators). */
  stderr: string;
}

/** Every guest this process started and has not reaped: killed on SIGINT/SIGTERM so none outlives a run. */
const live = new Set<Guest>();

export function liveGuests(): Guest[] {
  return [...live];
}

/**
 * One QEMU process and its agent. Lifecycle: booting -> ready -> stopping -> exited; `kill()` from any state
 * sends SIGTERM, then SIGKILL after a grace period.
 */
export class Guest {
  state: GuestState = 'booting';
  readonly exited: Promise<GuestExit>;
  readonly agent: AgentClient;
  readonly argv: string[];
  private readonly proc: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; reject: false; encoding: 'buffer'; buffer: { stdout: false; stderr: true } }>;

  private constructor(readonly spec: QemuSpec, readonly qemuBinary: string) {
    this.argv = qemuArgs(spec);
    this.proc = execa(qemuBinary, this.argv, {
      stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, encoding: 'buffer',
      buffer: { stdout: false, stderr: true },
    });
    this.agent = new AgentClient(this.proc.stdout, this.proc.stdin);
    live.add(this);
    this.exited = this.proc.then((r) => {
      this.state = 'exited';
      live.delete(this);
      this.agent.close();
      return {
        exitCode: r.exitCode ?? null,
        signal: r.signal ?? null,
        stderr: Buffer.from(r.stderr as Uint8Array).toString('utf8'),
      };
    });
  }

  static start(spec: QemuSpec, qemuBinary = 'qemu-system-x86_64'): Guest {
    return new Guest(spec, qemuBinary);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Resolves when the agent said READY; rejects on timeout or when QEMU exits first. */
  async waitReady(timeoutMs: number): Promise<{ kernelRelease: string }> {
    const ready = await this.agent.waitReady(timeoutMs);
    this.state = 'ready';
    return { kernelRelease: ready.kernelRelease };
  }

  exec(argv: string[], opts: { timeoutMs: number; stdin?: Buffer }): Promise<ExecResult> {
    return this.agent.exec(argv, opts);
  }

  /** Writes a marker into the kernel log so the console can be cut per step. */
  mark(text: string): Promise<void> {
    return this.agent.kmsg(text);
  }

  /** Ends the guest cleanly (`reboot -f` under -no-reboot); kills it when it does not exit in time. */
  async powerOff(timeoutMs: number): Promise<GuestExit> {
    if (this.state === 'exited') return this.exited;
    this.state = 'stopping';
    // The agent cannot answer a reboot; do not wait for its reply, wait for QEMU.
    this.agent.exec(['reboot', '-f'], { timeoutMs }).catch(() => undefined);
    const timer = setTimeout(() => void this.kill(), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Safe to call in any state, more than once. */
  async kill(graceMs = 2000): Promise<GuestExit> {
    if (this.state !== 'exited') {
      this.state = 'stopping';
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}
