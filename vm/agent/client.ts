/**
 * Host side of guest control: speaks PROTOCOL.md to ih-agent over QEMU's stdio chardev (QEMU's stdout
 * is the agent's output, QEMU's stdin its input). Requests are pipelined in order and answered in order;
 * the agent runs one at a time.
 *
 * Failure modes are typed so the caller can classify them without parsing messages:
 * - AgentTimeoutError: the host-side deadline passed (the guest may be hung: verdict `hang`).
 * - AgentClosedError: the stream ended (QEMU exited: look at the console for a panic).
 * - AgentProtocolError: the bytes made no sense (a harness bug: verdict `error`).
 * - AgentRequestError: the agent could not do what was asked (e.g. /dev/kmsg missing).
 */
import type { Readable, Writable } from 'node:stream';
import { InfraError } from '../../harness/errors.ts';
import { encodeFrame, FrameError, FrameReader, type Frame } from './frames.ts';

export { parseIoReport } from './io-report.ts';
export type { IoEvent, IoInfo, IoLine, IoReport, IoResult, IoSetupError, IoSummary } from './io-report.ts';

export const AGENT_PROTOCOL_VERSION = 1;

/** A kmsg write is one write(2) to /dev/kmsg: anything near this long is a guest that stopped answering. */
export const KMSG_TIMEOUT_MS = 30_000;

export interface AgentReady {
  protocol: number;
  kernelRelease: string;
  /** The agent's pid in the guest (1 when it is init). */
  pid: number;
}

export interface ExecOptions {
  /** Host-side deadline in ms, counted from the call (including time queued behind earlier requests). */
  timeoutMs?: number;
  stdin?: Buffer;
  /** Agent-side timeout in ms: SIGKILL to the child's process group; the result says timedOut. */
  agentTimeoutMs?: number;
  /** Cap per output stream, default 16 MiB in the agent; beyond it output is drained and dropped. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  argv: string[];
  /** null when killed by a signal or never reaped (see `reaped`). */
  exitCode: number | null;
  /** e.g. "SIGKILL"; null when the child exited normally. */
  signal: string | null;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
  /** The agent-side timeout fired and the process group was sent SIGKILL. */
  timedOut: boolean;
  /** False when the child did not die within 5 s of SIGKILL (stuck in D state). */
  reaped: boolean;
  /** errno of a failed execvp (ENOENT = 2, ...); exitCode is then 127. null when the program started. */
  execErrno: number | null;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export class AgentTimeoutError extends Error {
  override name = 'AgentTimeoutError';
  constructor(
    readonly request: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from the guest agent to ${request} within ${timeoutMs} ms`);
  }
}

export class AgentClosedError extends Error {
  override name = 'AgentClosedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class AgentProtocolError extends InfraError {
  override name = 'AgentProtocolError';
}

export class AgentRequestError extends InfraError {
  override name = 'AgentRequestError';
  constructor(
    readonly request: string,
    readonly errno: number,
    readonly agentMessage: string,
  ) {
    super(`guest agent failed ${request}: ${agentMessage} (errno ${errno})`);
  }
}

interface Pending {
  id: string;
  label: string;
  bytes: Buffer;
  sent: boolean;
  settled: boolean;
  resolve(frame: Frame): void;
  reject(err: Error): void;
}

export class AgentClient {
  private readonly reader = new FrameReader();
  /** Requests in the order the agent will answer them; timed-out ones stay until their answer is skipped. */
  private readonly inflight: Pending[] = [];
  private readonly readyWaiters: { resolve(r: AgentReady): void; reject(e: Error): void }[] = [];
  private ready?: AgentReady;
  private failure?: Error;
  private nextId = 1;
  /** QEMU's end of the channel closed: QEMU is exiting or gone (no request of ours closed it) */
  streamEnded = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
  ) {
    input.on('data', this.onData);
    input.once('end', () => ((this.streamEnded = true), this.fail(new AgentClosedError('the guest agent stream ended (QEMU exited?)'))));
    input.once('close', () => ((this.streamEnded = true), this.fail(new AgentClosedError('the guest agent stream closed (QEMU exited?)'))));
    input.on('error', (err) => this.fail(new AgentClosedError('reading from the guest agent failed', { cause: err })));
    output.on('error', (err) => this.fail(new AgentClosedError('writing to the guest agent failed', { cause: err })));
  }

  /** Resolves with the agent's READY announcement; AgentTimeoutError if it does not come in time. */
  waitReady(timeoutMs: number): Promise<AgentReady> {
    if (this.ready) return Promise.resolve(this.ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (r: AgentReady) => (clearTimeout(timer), resolve(r)),
        reject: (e: Error) => (clearTimeout(timer), reject(e)),
      };
      const timer = setTimeout(() => {
        this.readyWaiters.splice(this.readyWaiters.indexOf(waiter), 1);
        reject(new AgentTimeoutError('the READY announcement', timeoutMs));
      }, timeoutMs);
      this.readyWaiters.push(waiter);
    });
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv[0] === '') {
      throw new TypeError(`exec: argv must be a non-empty array of strings, got ${JSON.stringify(argv)}`);
    }
    const bad = argv.find((a) => typeof a !== 'string' || a.includes('\0'));
    if (bad !== undefined) throw new TypeError(`exec: argument ${JSON.stringify(bad)} is not a string without NUL bytes`);
    const fields: Record<string, number> = {};
    if (opts.agentTimeoutMs !== undefined) fields.timeout_ms = positiveInt('agentTimeoutMs', opts.agentTimeoutMs);
    if (opts.maxOutputBytes !== undefined) fields.limit = positiveInt('maxOutputBytes', opts.maxOutputBytes, true);
    const argvBytes = Buffer.from(argv.map((a) => `${a}\0`).join(''), 'utf8');
    const label = `exec ${JSON.stringify(argv).slice(0, 200)}`;
    const frame = await this.request('exec', [argvBytes, opts.stdin ?? Buffer.alloc(0)], fields, label, opts.timeoutMs);
    expectType(frame, 'exit', label);
    const [stdout, stderr] = frame.payloads;
    if (stdout === undefined || stderr === undefined) throw new AgentProtocolError(`${label}: exit frame without 2 payloads`);
    const f = frame.fields;
    const code = f.get('code');
    const signal = f.get('signal');
    const execErrno = intField(frame, 'exec_errno', label);
    return {
      argv: [...argv],
      exitCode: code === undefined || code === '-' ? null : intField(frame, 'code', label),
      signal: signal === undefined || signal === '-' ? null : signal,
      stdout,
      stderr,
      durationMs: intField(frame, 'duration_ms', label),
      timedOut: f.get('timed_out') === '1',
      reaped: f.get('reaped') !== '0',
      execErrno: execErrno === 0 ? null : execErrno,
      stdoutTruncated: intField(frame, 'stdout_total', label) > stdout.length,
      stderrTruncated: intField(frame, 'stderr_total', label) > stderr.length,
    };
  }

  /**
   * Write one line to the guest's /dev/kmsg: a marker to cut the console log at (blktests-style). It has a
   * deadline like every wait on the guest (KMSG_TIMEOUT_MS unless told): a hung guest never answers.
   */
  async kmsg(text: string, opts: RequestOptions = {}): Promise<void> {
    const label = `kmsg ${JSON.stringify(text.slice(0, 80))}`;
    const frame = await this.request('kmsg', [Buffer.from(text, 'utf8')], {}, label, opts.timeoutMs ?? KMSG_TIMEOUT_MS);
    expectType(frame, 'ok', label);
  }

  async ping(opts: RequestOptions = {}): Promise<void> {
    expectType(await this.request('ping', [], {}, 'ping', opts.timeoutMs), 'pong', 'ping');
  }

  /** Stop using the connection: pending requests reject with AgentClosedError. The streams stay open
   * (they belong to the QEMU process) and whatever arrives later is discarded. */
  close(): void {
    this.fail(new AgentClosedError('the agent client was closed'));
  }

  private request(
    type: string,
    payloads: Buffer[],
    fields: Record<string, number>,
    label: string,
    timeoutMs: number | undefined,
  ): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    if (timeoutMs !== undefined) positiveInt('timeoutMs', timeoutMs);
    const id = String(this.nextId++);
    const bytes = encodeFrame(type, id, payloads, fields);
    return new Promise<Frame>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const p: Pending = {
        id,
        label,
        bytes,
        sent: false,
        settled: false,
        resolve: (frame) => settle(() => resolve(frame)),
        reject: (err) => settle(() => reject(err)),
      };
      const settle = (fn: () => void): void => {
        if (p.settled) return;
        p.settled = true;
        clearTimeout(timer);
        fn();
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          p.reject(new AgentTimeoutError(label, timeoutMs));
          // Never sent: forget it. Sent: keep its place so its late answer is recognised and skipped.
          if (!p.sent) this.inflight.splice(this.inflight.indexOf(p), 1);
        }, timeoutMs);
      }
      this.inflight.push(p);
      if (this.ready) this.send(p);
    });
  }

  private send(p: Pending): void {
    p.sent = true;
    this.output.write(p.bytes);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.failure) return;
    this.reader.push(chunk);
    try {
      for (let frame = this.reader.next(); frame; frame = this.reader.next()) {
        this.dispatch(frame);
        if (this.failure) return;
      }
    } catch (err) {
      const msg = err instanceof FrameError ? err.message : String(err);
      this.fail(new AgentProtocolError(`guest agent stream corrupt: ${msg}`, { cause: err }));
    }
  };

  private dispatch(frame: Frame): void {
    if (frame.type === 'ready') return this.onReady(frame);
    if (frame.type === 'error' && frame.id === '-') {
      return this.fail(new AgentProtocolError(`the guest agent rejected a request header: ${frame.payloads[0]}`));
    }
    const head = this.inflight[0];
    if (head === undefined || !head.sent || head.id !== frame.id) {
      return this.fail(
        new AgentProtocolError(`unexpected ${frame.type} frame for request ${frame.id} (expected ${head?.sent ? head.id : 'none'})`),
      );
    }
    this.inflight.shift();
    if (frame.type === 'error') {
      const errno = Number(frame.fields.get('errno') ?? NaN);
      head.reject(new AgentRequestError(head.label, errno, frame.payloads[0]?.toString('utf8') ?? ''));
    } else {
      head.resolve(frame);
    }
  }

  private onReady(frame: Frame): void {
    const protocol = Number(frame.fields.get('proto'));
    const info: AgentReady = {
      protocol,
      kernelRelease: frame.payloads[0]?.toString('utf8') ?? '',
      pid: Number(frame.fields.get('pid') ?? NaN),
    };
    if (protocol !== AGENT_PROTOCOL_VERSION) {
      return this.fail(
        new AgentProtocolError(
          `the guest agent speaks protocol ${frame.fields.get('proto')}, this client ${AGENT_PROTOCOL_VERSION}: rebuild the guest image`,
        ),
      );
    }
    // A second READY means the agent reopened its port: whatever it was doing for us is lost.
    const lost = this.inflight.filter((p) => p.sent);
    if (this.ready && lost.length > 0) {
      const err = new AgentProtocolError(`the guest agent restarted while ${lost.map((p) => p.label).join(', ')} ran`);
      for (const p of lost) p.reject(err);
      this.inflight.splice(0, this.inflight.length, ...this.inflight.filter((p) => !p.sent));
    }
    this.ready = info;
    for (const w of this.readyWaiters.splice(0)) w.resolve(info);
    for (const p of this.inflight) if (!p.sent) this.send(p);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.inflight.splice(0)) p.reject(err);
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
  }
}

function positiveInt(name: string, v: number, allowZero = false): number {
  if (!Number.isFinite(v) || v < 0 || (v === 0 && !allowZero)) {
    throw new TypeError(`${name} must be a positive number of milliseconds or bytes, got ${v}`);
  }
  return Math.ceil(v);
}

function expectType(frame: Frame, type: string, label: string): void {
  if (frame.type !== type) throw new AgentProtocolError(`${label}: expected a ${type} frame, got ${frame.type}`);
}

function intField(frame: Frame, key: string, label: string): number {
  const v = frame.fields.get(key);
  if (v === undefined || !/^-?\d+$/.test(v)) {
    throw new AgentProtocolError(`${label}: ${frame.type} frame has no integer ${key} (got ${v})`);
  }
  return Number(v);
}
