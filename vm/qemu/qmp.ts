/**
 * QEMU's machine protocol (QMP) on a unix socket: what the VM's state is (running, paused on a host I/O
 * error, shut down) and why QEMU ended (its SHUTDOWN event's reason). The guest agent cannot say any of
 * this: a paused VM and a hung kernel look the same from inside, and a reset leaves no guest to ask.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

export interface QmpStatus {
  running: boolean;
  /** e.g. running, paused, io-error, shutdown, internal-error */
  status: string;
}

export interface QmpBlockDevice {
  device: string;
  /** the image file behind the drive */
  file?: string;
  /** ok, failed, nospace: the last I/O error QEMU stopped the VM for */
  ioStatus?: string;
}

export class QmpClient {
  readonly events: QmpEvent[] = [];
  private buf = '';
  private nextId = 1;
  private readonly waiting = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();
  private closed: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    const end = (e?: Error) => {
      this.closed ??= e ?? new Error('QMP socket closed');
      for (const w of this.waiting.values()) w.reject(this.closed);
      this.waiting.clear();
    };
    sock.on('error', end);
    sock.on('close', () => end());
  }

  /**
   * Connects once QEMU has created the socket (it does so early, before the guest runs) and leaves
   * capabilities negotiation: commands work from then on. Rejects after `timeoutMs`.
   */
  static async connect(path: string, timeoutMs: number, gone: () => boolean = () => false): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (gone()) throw new Error(`QEMU ended before its QMP socket ${path} answered`);
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const c = new QmpClient(sock);
        await c.command('qmp_capabilities', undefined, Math.max(1000, deadline - Date.now()));
        return c;
      } catch (e) {
        if (Date.now() >= deadline || gone()) throw new Error(`no QMP connection on ${path} within ${timeoutMs} ms: ${(e as Error).message}`, { cause: e });
        await sleep(50);
      }
    }
  }

  /** Sends one command; rejects on QMP's error answer, a closed socket or after `timeoutMs`. */
  command(name: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const id = `ih-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`QMP ${name}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.sock.write(JSON.stringify({ execute: name, id, ...(args ? { arguments: args } : {}) }) + '\n');
    });
  }

  async status(timeoutMs: number): Promise<QmpStatus> {
    const r = (await this.command('query-status', undefined, timeoutMs)) as { running: boolean; status: string };
    return { running: r.running, status: r.status };
  }

  async blockDevices(timeoutMs: number): Promise<QmpBlockDevice[]> {
    const r = (await this.command('query-block', undefined, timeoutMs)) as Array<{ device: string; 'io-status'?: string; inserted?: { file?: string } }>;
    return r.map((d) => ({ device: d.device, ...(d.inserted?.file ? { file: d.inserted.file } : {}), ...(d['io-status'] ? { ioStatus: d['io-status'] } : {}) }));
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      let msg: { id?: string; return?: unknown; error?: { class: string; desc: string }; event?: string; data?: Record<string, unknown>; QMP?: unknown };
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if (msg.event !== undefined) {
        this.events.push({ event: msg.event, ...(msg.data ? { data: msg.data } : {}) });
        continue;
      }
      const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
      if (w === undefined) continue;
      this.waiting.delete(msg.id!);
      if (msg.error) w.reject(new Error(`QMP: ${msg.error.class}: ${msg.error.desc}`));
      else w.resolve(msg.return);
    }
  }
}
