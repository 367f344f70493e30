import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { AgentClient, KMSG_TIMEOUT_MS, type ExecResult } from '../agent/client.ts';
import { qemuArgs, type QemuSpec } from './args.ts';
import { QmpClient } from './qmp.ts';

export type GuestState = 'booting' | 'ready' | 'stopping' | 'exited';

export interface GuestExit {
  exitCode: number | null;
  signal: string | null;
  /** QEMU's own stderr (its complaints about arguments, images, accelerators). */
  stderr: string;
  /**
   * Who ended QEMU: `harness` (kill() or powerOff()), `guest` (the guest reset or shut down: under
   * -no-reboot a panic with panic=-1, a triple fault and `reboot -f` all end QEMU), `signal` (a signal
   * the harness did not send), `qemu` (QEMU gave up by itself: an argument, an image, an internal error).
   */
  endedBy: 'harness' | 'guest' | 'signal' | 'qemu';
  /** QMP's SHUTDOWN reason when it came (guest-reset, guest-shutdown, guest-panic, host-signal, ...) */
  shutdownReason?: string;
}

const QMP_TIMEOUT_MS = 3_000;

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
  readonly spec: QemuSpec;
  private readonly proc: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; reject: false; encoding: 'buffer'; buffer: { stdout: false; stderr: true } }>;
  /** the harness asked QEMU to end (kill, powerOff): its exit is no news */
  private endRequested = false;
  private readonly qmpDir: string;
  private readonly qmp: Promise<QmpClient | undefined>;

  private constructor(spec: QemuSpec, readonly qemuBinary: string) {
    // a unix socket path has ~107 bytes: under the system's temporary directory, not the run directory
    this.qmpDir = mkdtempSync(join(tmpdir(), 'ih-qmp-'));
    this.spec = { ...spec, qmpSocket: spec.qmpSocket ?? join(this.qmpDir, 'qmp.sock') };
    this.argv = qemuArgs(this.spec);
    this.proc = execa(qemuBinary, this.argv, {
      stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, encoding: 'buffer',
      buffer: { stdout: false, stderr: true },
    });
    this.agent = new AgentClient(this.proc.stdout, this.proc.stdin);
    live.add(this);
    this.qmp = QmpClient.connect(this.spec.qmpSocket!, 20_000, () => this.state === 'exited').catch(() => undefined);
    this.exited = this.proc.then(async (r) => {
      this.state = 'exited';
      live.delete(this);
      this.agent.close();
      const qmp = await this.qmp;
      // the SHUTDOWN event arrives before QEMU closes the socket; give the last bytes a moment
      await new Promise((res) => setTimeout(res, 20));
      const shutdown = qmp?.events.filter((e) => e.event === 'SHUTDOWN').at(-1);
      qmp?.close();
      rmSync(this.qmpDir, { recursive: true, force: true });
      const signal = r.signal ?? null;
      const reason = typeof shutdown?.data?.reason === 'string' ? shutdown.data.reason : undefined;
      const endedBy: GuestExit['endedBy'] = this.endRequested ? 'harness'
        : signal !== null || reason === 'host-signal' ? 'signal'
          : shutdown !== undefined && shutdown.data?.guest === true ? 'guest'
            // no QMP answer: a clean exit 0 that nobody asked for is QEMU ending on the guest's reset
            : shutdown === undefined && r.exitCode === 0 ? 'guest' : 'qemu';
      return {
        exitCode: r.exitCode ?? null,
        signal,
        stderr: Buffer.from(r.stderr as Uint8Array).toString('utf8'),
        endedBy,
        ...(reason !== undefined ? { shutdownReason: reason } : {}),
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

  /** Writes a marker into the kernel log so the console can be cut per step; has a deadline like every wait. */
  mark(text: string, timeoutMs = KMSG_TIMEOUT_MS): Promise<void> {
    return this.agent.kmsg(text, { timeoutMs });
  }

  /**
   * Why the guest cannot answer for reasons of the host, not of its kernel: QEMU stopped (SIGSTOP: state T
   * in /proc/<pid>/stat), or the VM paused by QEMU on a host I/O error (werror=stop: ENOSPC on the file
   * system of an image, EIO of the host disk). Undefined when the VM runs, so a silence is the kernel's.
   */
  async hostFault(): Promise<string | undefined> {
    if (this.state === 'exited') return undefined;
    const pid = this.pid;
    const st = pid !== undefined ? processState(pid) : undefined;
    if (st === 'T' || st === 't') return `QEMU (pid ${pid}) is stopped (process state ${st} in /proc/${pid}/stat: SIGSTOP or a debugger), not the guest's kernel`;
    const qmp = await this.qmp;
    if (qmp === undefined) return undefined;
    let status;
    try {
      status = await qmp.status(QMP_TIMEOUT_MS);
    } catch {
      return undefined;
    }
    if (status.running || status.status === 'running') return undefined;
    if (status.status === 'io-error') {
      const failed = (await qmp.blockDevices(QMP_TIMEOUT_MS).catch(() => [])).filter((d) => d.ioStatus !== undefined && d.ioStatus !== 'ok');
      const ev = qmp.events.filter((e) => e.event === 'BLOCK_IO_ERROR').at(-1)?.data;
      const why = ev === undefined ? '' : `: ${ev.nospace === true ? 'no space left on the host file system' : String(ev.reason ?? 'I/O error')} (${String(ev.operation ?? '?')})`;
      const where = failed.length > 0 ? failed.map((d) => `${d.file ?? d.device} (${d.ioStatus})`).join(', ') : 'a disk image';
      return `QEMU paused the guest on a host I/O error on ${where}${why}`;
    }
    return `QEMU reports the VM as ${status.status}, not running`;
  }

  /** Ends the guest cleanly (`reboot -f` under -no-reboot); kills it when it does not exit in time. */
  async powerOff(timeoutMs: number): Promise<GuestExit> {
    if (this.state === 'exited') return this.exited;
    this.state = 'stopping';
    this.endRequested = true;
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
    // QEMU closed the agent's channel: it is ending by itself, and how it ends is evidence (exitOutcome)
    if (this.state !== 'exited' && this.agent.streamEnded) await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000).unref())]);
    if (this.state !== 'exited') {
      this.state = 'stopping';
      this.endRequested = true;
      this.proc.kill('SIGTERM');
      // a stopped QEMU acts on SIGTERM only once it runs again
      if (this.pid !== undefined) processSignal(this.pid, 'SIGCONT');
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

/** The state letter of /proc/<pid>/stat (R, S, D, T, Z...), or undefined when it cannot be read. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may hold spaces: the state follows the last ')'
    return /\)\s+(\S)/.exec(stat.slice(stat.lastIndexOf(')')))?.[1];
  } catch {
    return undefined;
  }
}

function processSignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
