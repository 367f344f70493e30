import { mkdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentClosedError, AgentTimeoutError, type ExecResult } from '../../../vm/agent/client.ts';
import { diskImageBytes, type Accel, type DiskSpec } from '../../../vm/qemu/args.ts';
import { Guest, type GuestExit } from '../../../vm/qemu/guest.ts';
import type { GuestImage } from '../../../vm/image/initramfs.ts';
import type { ResolvedKernel } from '../../../vm/kernel/types.ts';
import { InfraError, tail } from '../../errors.ts';
import type { Scenario } from '../../scenario/load.ts';
import type { CellResult, Observation, ObservationHeader, StepRecord } from './observations.ts';
import { RecordingImages, type HostImages } from './host-images.ts';
import type { CommandExpectation, Expectation, HostOp } from '../../repro/types.ts';
import { copyImage, createImage, planTransfers, type TransferPlan } from './disks.ts';
import type { corruptionTarget } from '../../model/integrity/corrupt.ts';
import { checkFreeSpace, scenarioSpace } from './free-space.ts';
import { wantsRepro, writeRepro } from '../../repro/write.ts';
import { judgeExecution } from '../../verdict/execution.ts';
import { KernelFailure, StepHang, type StepsOutcome } from '../../verdict/failures.ts';
import type { Disagreement } from '../../verdict/types.ts';

export interface CellSpec {
  /** "<kernel label>/<scenario id>" */
  id: string;
  dir: string;
  scenario: Scenario;
  kernel: ResolvedKernel;
  image: GuestImage;
  accel: Accel;
  bootTimeoutMs: number;
  memoryMb: number;
  cpus: number;
  keepDisks: boolean;
  /** Test seams: replace parts of the model to prove the cell notices when they are wrong. */
  hooks?: CellHooks;
  /**
   * The gate's format-compatibility pass (harness/gate/compat.ts): 'write' formats and writes but skips the
   * reads; 'read' opens the stack on `seedDisks` without formatting, takes the scenario's writes as done (the
   * model replays them) and reads. Absent: the whole scenario.
   */
  phase?: 'write' | 'read';
  /** Disk name -> image to start from (a copy is made), instead of a zeroed one. */
  seedDisks?: Record<string, string>;
}

export interface CellHooks {
  /** Where host corruptions go (default: the model's corruptionTarget). */
  corruptionTarget?: typeof corruptionTarget;
  /** Extra kernel command-line words (a test makes a guest that never starts its agent with them). */
  cmdline?: string[];
  /** Crash steps check with every write into dm-integrity's journal dropped from the replay (crash-stack.ts). */
  brokenReplay?: 'drop-journal';
  /**
   * A dm-delay lower device (stack.lower: delay) maps the flushes meant for the data disk to this guest device
   * instead (e.g. a dm-error device beforeStack creates, which takes no flush bios): a lower device that keeps
   * every flush from the data disk, a fault a test injects.
   */
  delayFlushesTo?: string;
  /** A guest command run (and required to succeed) before the stack is built: a fault a test injects. */
  beforeStack?: string[];
  /**
   * A guest command a shared guest runs once the scenario's end marker is on the console, before the next
   * scenario begins (harness/faults: a panic between two scenarios). Its failure is not the scenario's.
   */
  afterEnd?: string[];
}

/** The console of the fresh guest a kill step boots after SIGKILLing the first (crash-kill.ts). */
export const SECOND_CONSOLE = 'console-after-kill.log';

/**
 * What a cell's steps may ask of the guest. It records every command so the report can show them, and
 * turns the agent's failure modes into the cell's: a host deadline is a hang, a dead QEMU is looked up
 * in the console (crash) or blamed on the harness (error).
 */
export class GuestSession {
  readonly steps: StepRecord[] = [];
  readonly disagreements: Disagreement[] = [];
  private current: StepRecord | undefined;
  private currentStarted = 0;

  /**
   * Runs once, before the first read the model expects to fail (readsMayFail) or the first crash or kill
   * step: a shared guest waits here for the ratelimit windows of counted kernel lines that the previous
   * scenario left open (guest-state.ts, ratelimitCarry). Nothing before such a read is expected to log one.
   */
  ratelimitGate: (() => Promise<void>) | undefined;

  /**
   * A shared guest's answers to commands whose output cannot change while it runs (/proc/version, the
   * tools' --help): later scenarios take them from here (runOnce). Undefined: every command runs.
   */
  onceCache: Map<string, ExecResult> | undefined;

  /** Set by runCell: boots a fresh QEMU on the cell's disk images (the kill step's second boot). */
  bootFresh: (() => Promise<Guest>) | undefined;

  /** The host's access to the cell's raw images; every access is an observation (startObserving names them). */
  images: HostImages = new RecordingImages(new Map(), (o) => this.observe(o));

  /** Observations not yet in observations.jsonl (written at each step's end). */
  private pending: Observation[] = [];
  private readonly observationLog: string;
  private observing: Promise<void> | undefined;

  /**
   * @param disks role -> /dev/vdX when the guest's disks were mapped already (a shared guest maps all its
   * slots once); otherwise mapGuestDisks finds them by their serial ih-<role>.
   */
  constructor(public guest: Guest, readonly stepTimeoutMs: number, private readonly stepLog: string, readonly disks?: ReadonlyMap<string, string>) {
    this.observationLog = join(dirname(stepLog), 'observations.jsonl');
  }

  /**
   * Starts the cell's observations.jsonl with what a replay needs beyond the steps (the scenario as it ran),
   * and names the raw images by their disks. Called once the cell's images are known (runStack).
   */
  startObserving(header: Omit<ObservationHeader, 't' | 'version'>, roles: ReadonlyMap<string, string>): void {
    this.images = new RecordingImages(roles, (o) => this.observe(o));
    const line: ObservationHeader = { t: 'header', version: 1, ...header, ...(this.disks !== undefined ? { disks: Object.fromEntries(this.disks) } : {}) };
    this.observing = writeFile(this.observationLog, `${JSON.stringify(line)}\n`);
  }

  /** Records what the guest or the host images showed, under the current step. */
  observe(o: Observation extends infer T ? (T extends { step: number } ? Omit<T, 'step'> : never) : never): void {
    this.pending.push({ ...o, step: this.current?.index ?? -3 } as Observation);
  }

  private async flushObservations(): Promise<void> {
    if (this.observing === undefined) return;
    await this.observing;
    if (this.pending.length === 0) return;
    const lines = this.pending.map((o) => JSON.stringify(o)).join('\n');
    this.pending = [];
    await appendFile(this.observationLog, `${lines}\n`);
  }

  /** After the host killed QEMU: the session goes on in a fresh guest on the same disks. */
  async bootAgain(): Promise<void> {
    if (this.guest.state !== 'exited') throw new InfraError('bootAgain: the old guest is still running');
    if (this.bootFresh === undefined) throw new InfraError('this session cannot boot a second guest');
    this.guest = await this.bootFresh();
  }

  async begin(index: number, kind: string): Promise<void> {
    await this.end();
    // what a crash or a kill step makes the kernel log is not the model's to foresee step by step
    if (kind === 'crash' || kind === 'kill') await this.readsMayFail();
    this.current = { index, kind, commands: [], durationMs: 0 };
    this.currentStarted = Date.now();
    this.observe({ t: 'begin', kind });
    await this.guest.mark(`ih: step ${index} ${kind}`).catch((e: unknown) => this.rethrow(e, ['kmsg']));
  }

  /** Called before a read the model expects to fail, or whose expected kernel lines are otherwise counted. */
  async readsMayFail(): Promise<void> {
    const gate = this.ratelimitGate;
    if (gate === undefined) return;
    this.ratelimitGate = undefined;
    await gate();
  }

  async end(): Promise<void> {
    if (this.current !== undefined) {
      this.current.wallMs = Date.now() - this.currentStarted;
      this.steps.push(this.current);
      await appendFile(this.stepLog, JSON.stringify(this.current) + '\n');
      this.current = undefined;
    }
    await this.flushObservations();
  }

  note(text: string): void {
    if (this.current) this.current.note = this.current.note ? `${this.current.note}; ${text}` : text;
  }

  /** Runs argv in the guest; never throws for a non-zero exit (callers decide what it means). */
  async run(argv: string[], opts: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const started = Date.now();
    let r: ExecResult;
    const watch = watchHost(this.guest, argv);
    try {
      r = await Promise.race([this.guest.exec(argv, { timeoutMs: opts.timeoutMs ?? this.stepTimeoutMs, ...(opts.stdin ? { stdin: opts.stdin } : {}) }), watch.fault]);
    } catch (e) {
      this.current?.commands.push({ argv, exitCode: null, durationMs: Date.now() - started, stderrTail: String(e) });
      this.observe({
        t: 'cmd', argv, ...(opts.stdin ? { stdinHex: opts.stdin.toString('hex') } : {}), exitCode: null, signal: null,
        durationMs: Date.now() - started, stdout: '', stderr: '',
        failed: { kind: e instanceof AgentTimeoutError ? 'timeout' : e instanceof AgentClosedError ? 'closed' : 'other', message: (e as Error).message ?? String(e) },
      });
      return this.rethrow(e, argv);
    }
    finally {
      watch.stop();
    }
    const rec = {
      argv, exitCode: r.exitCode, durationMs: r.durationMs, ...(r.exitCode !== 0 ? { stderrTail: tail(r.stderr, 8) } : {}),
      ...(opts.stdin ? { stdinHex: opts.stdin.toString('hex') } : {}),
    };
    this.current?.commands.push(rec);
    this.observeResult(argv, r, opts.stdin);
    if (this.current) this.current.durationMs += r.durationMs;
    if (r.exitCode === 127) throw new InfraError(`guest has no program ${argv[0]} (exit 127): ${tail(r.stderr, 3)}`);
    return r;
  }

  /** run(), or the answer this guest gave to the same argv before (see onceCache); recorded as `cached`. */
  async runOnce(argv: string[]): Promise<ExecResult> {
    const key = JSON.stringify(argv);
    const hit = this.onceCache?.get(key);
    if (hit !== undefined) {
      this.current?.commands.push({ argv, exitCode: hit.exitCode, durationMs: 0, cached: true });
      this.observeResult(argv, { ...hit, durationMs: 0 }, undefined, true);
      return hit;
    }
    const r = await this.run(argv);
    if (r.exitCode !== null) this.onceCache?.set(key, r);
    return r;
  }

  private observeResult(argv: string[], r: ExecResult, stdin: Buffer | undefined, cached = false): void {
    this.observe({
      t: 'cmd', argv, ...(stdin ? { stdinHex: stdin.toString('hex') } : {}), exitCode: r.exitCode, signal: r.signal, durationMs: r.durationMs,
      ...(r.timedOut ? { timedOut: true } : {}), ...stdoutRecord(r.stdout), stderr: r.stderr.toString(), ...(cached ? { cached } : {}),
    });
  }

  /** Forgets a cached answer (it no longer holds, or a requirement it denies is to be asked afresh). */
  forget(argv: string[]): void {
    this.onceCache?.delete(JSON.stringify(argv));
  }

  /** Runs argv and requires exit 0: otherwise the kernel (or the stack on it) failed this step. */
  async must(argv: string[], opts: { stdin?: Buffer } = {}): Promise<ExecResult> {
    const r = await this.run(argv, opts);
    const rec = this.current?.commands.at(-1);
    if (rec !== undefined) rec.must = true;
    if (r.exitCode !== 0) {
      throw new KernelFailure(`'${argv.join(' ')}' exited ${r.exitCode ?? r.signal}: ${tail(r.stderr.toString() || r.stdout.toString(), 5)}`);
    }
    return r;
  }

  /** Records what the kernel did to one block (for reports and tests that check the guest really failed it). */
  observeFailed(block: number, errno: number): void {
    if (this.current === undefined) return;
    (this.current.failedBlocks ??= []).push({ block, errno });
  }

  /** The model's answer for the next command this step runs (`last`: the one it just ran); see repro/types.ts. */
  expect(e: Expectation, which: 'next' | 'last' = 'next'): void {
    if (this.current === undefined) return;
    const command = this.current.commands.length - (which === 'last' ? 1 : 0);
    (this.current.expect ??= []).push({ command, ...e } as CommandExpectation);
  }

  /** A change the host made to a raw image in this step. */
  hostOp(op: HostOp): void {
    if (this.current !== undefined) (this.current.hostOps ??= []).push(op);
  }

  /** Which guest device each disk is, recorded on the current step. */
  recordDisks(disks: ReadonlyMap<string, string>): void {
    if (this.current !== undefined) this.current.disks = Object.fromEntries(disks);
  }

  disagree(d: Disagreement): void {
    this.disagreements.push(d);
  }

  private rethrow(e: unknown, argv: string[]): never {
    if (e instanceof HostFault) throw e;
    if (e instanceof AgentTimeoutError) throw new StepHang(`'${argv.join(' ')}' did not answer within ${this.stepTimeoutMs / 1000}s`, { cause: e });
    if (e instanceof AgentClosedError) throw e;
    throw new InfraError(`agent failed running '${argv.join(' ')}': ${(e as Error).message}`, { cause: e });
  }
}

/** How often a running command's QEMU is asked whether the host stopped or paused it. */
const HOST_WATCH_MS = 5_000;

/** The host stopped or paused the VM while a command ran (watchHost): `error`, whatever the deadline says. */
export class HostFault extends InfraError {
  override name = 'HostFault';
}

/**
 * While a guest command runs, asks every few seconds whether QEMU was stopped or paused the VM on a host I/O
 * error (Guest.hostFault), so a full host file system ends the step as an `error` at once instead of after
 * its deadline. `fault` rejects only then; it never resolves.
 */
function watchHost(guest: Guest, argv: string[]): { fault: Promise<never>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const fault = new Promise<never>((_, reject) => {
    if (typeof guest.hostFault !== 'function') return;
    const tick = async () => {
      const f = await guest.hostFault().catch(() => undefined);
      if (timer === undefined) return;
      if (f !== undefined) reject(new HostFault(`${f} (while '${argv.join(' ')}' ran)`));
      else timer = setTimeout(() => void tick(), HOST_WATCH_MS);
    };
    timer = setTimeout(() => void tick(), HOST_WATCH_MS);
  });
  fault.catch(() => undefined);
  return {
    fault,
    stop: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** One of a cell's disks: its role, its host image and how QEMU presents it. */
export interface CellDisk {
  role: string;
  path: string;
  logicalBlockSize?: number;
  nvme?: DiskSpec['nvme'];
}

/** What QEMU needs of a cell disk, under the serial the guest finds it by. */
export function qemuDisk(d: CellDisk, serial: string): DiskSpec {
  return { path: d.path, serial, logicalBlockSize: d.logicalBlockSize, nvme: d.nvme };
}

/** The scenario's own disks plus its payload and output disks: fresh, sparse images under <dir>/disks. */
export async function createCellDisks(spec: Pick<CellSpec, 'dir' | 'scenario' | 'seedDisks'>): Promise<{ plan: TransferPlan; disks: CellDisk[] }> {
  const dir = join(spec.dir, 'disks');
  const plan = planTransfers(spec.scenario);
  // before the guest boots: a file system that fills up under a running guest pauses it (werror=stop)
  await checkFreeSpace([{ path: dir, bytes: scenarioSpace(spec.scenario.disks.map((d) => ({ size: diskImageBytes(d.size, d) })), plan), what: `disk images of ${spec.scenario.id}` }]);
  const disks: CellDisk[] = [];
  for (const d of spec.scenario.disks) {
    // A compat read phase starts from the image the other kernel wrote.
    const seed = spec.seedDisks?.[d.name];
    const shape = { logicalBlockSize: d.logicalBlockSize, nvme: d.nvme };
    disks.push({ role: d.name, path: seed !== undefined ? await copyImage(seed, dir, d.name) : await createImage(dir, d.name, diskImageBytes(d.size, shape)), ...shape });
  }
  disks.push({ role: 'payload', path: await createImage(dir, 'payload', plan.payloadSize) });
  disks.push({ role: 'out', path: await createImage(dir, 'out', plan.outSize) });
  return { plan, disks };
}

/**
 * A step that got no answer in time is the kernel's hang only when the VM was running: a QEMU that is
 * stopped (SIGSTOP) or that paused the VM on a host I/O error (ENOSPC under the image) is the host's
 * fault, `error`, named. Asked before the guest is killed, while QEMU can still say.
 */
export async function hostSideOutcome(guest: Guest, outcome: StepsOutcome): Promise<StepsOutcome> {
  if (outcome?.verdict !== 'hang' && !(outcome?.verdict === 'error' && /did not answer|no answer/.test(outcome.reason))) return outcome;
  const fault = await guest.hostFault().catch(() => undefined);
  return fault === undefined ? outcome : { verdict: 'error', reason: `${fault} (${outcome.reason})` };
}

/** The verdict of a session's execution (judgeExecution over what the session recorded). */
export function judgeCell(
  spec: Pick<CellSpec, 'scenario'>, session: GuestSession, outcome: StepsOutcome, consoleText: string, qemuStderr: string, exit?: GuestExit,
): ReturnType<typeof judgeExecution> {
  return judgeExecution({
    scenarioId: spec.scenario.id, disagreements: session.disagreements, outcome, steps: session.steps.length, consoleText, qemuStderr,
    ...(exit !== undefined ? { exit } : {}),
  });
}

/** result.json, disagreements.json, repro/ of a failing cell; the disks of a passing cell go unless --keep-disks. */
export async function writeCellFiles(spec: Pick<CellSpec, 'dir' | 'keepDisks' | 'id' | 'scenario' | 'phase'>, result: CellResult, extra: Record<string, unknown> = {}): Promise<void> {
  await writeFile(join(spec.dir, 'result.json'), JSON.stringify({ ...result, ...extra }, null, 2) + '\n');
  if (result.disagreements.length > 0) {
    await writeFile(join(spec.dir, 'disagreements.json'), JSON.stringify(result.disagreements, null, 2) + '\n');
  }
  // a reproducer that cannot be written never changes the cell: writeRepro says why in repro/ itself
  if (wantsRepro(result.verdict)) await writeRepro(spec, result).catch(() => undefined);
  if (result.verdict === 'pass' && !spec.keepDisks) await rm(join(spec.dir, 'disks'), { recursive: true, force: true });
}

/** Waits for the agent; a guest that never reaches it in time is a hang (of the kernel's boot). */
export async function bootGuest(guest: Pick<Guest, 'waitReady'>, timeoutMs: number): Promise<{ kernelRelease: string }> {
  try {
    return await guest.waitReady(timeoutMs);
  } catch (e) {
    if (e instanceof AgentTimeoutError) throw new StepHang(`guest did not reach its agent within ${timeoutMs / 1000}s of boot`, { cause: e });
    throw e;
  }
}

/**
 * A command's stdout as an observation keeps it: as text when the text gives back the same bytes, else as hex
 * (a read-back through `dd` is binary, and a UTF-8 round trip would change the bytes a replay judges).
 */
export function stdoutRecord(stdout: Buffer): { stdout: string; stdoutHex?: string } {
  const text = stdout.toString();
  return Buffer.from(text).equals(stdout) ? { stdout: text } : { stdout: '', stdoutHex: stdout.toString('hex') };
}
