import { mkdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentClosedError, AgentTimeoutError, parseIoReport, type ExecResult } from '../../vm/agent/client.ts';
import type { Accel } from '../../vm/qemu/args.ts';
import { Guest } from '../../vm/qemu/guest.ts';
import type { GuestImage } from '../../vm/image/initramfs.ts';
import type { ResolvedKernel } from '../../vm/kernel/types.ts';
import { scanConsole } from '../console.ts';
import { InfraError, tail } from '../errors.ts';
import type { Scenario } from '../scenario/load.ts';
import type { CellResult, Disagreement, StepRecord } from './observations.ts';
import { copyImage, createImage, planTransfers, type TransferPlan } from './disks.ts';
import { CryptCell } from './crypt-cell.ts';
import { IntegrityCell } from './integrity-cell.ts';
import type { CorruptionTargetFn } from './integrity-faults.ts';
import { LuksCell } from './luks-cell.ts';
import { coverageHooks } from '../coverage/guest.ts';

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
  corruptionTarget?: CorruptionTargetFn;
  /** Extra kernel command-line words (a test makes a guest that never starts its agent with them). */
  cmdline?: string[];
  /** Crash steps check with every write into dm-integrity's journal dropped from the replay (crash-stack.ts). */
  brokenReplay?: 'drop-journal';
}

/** The console of the fresh guest a kill step boots after SIGKILLing the first (crash-kill.ts). */
export const SECOND_CONSOLE = 'console-after-kill.log';

/** The kernel did something the scenario cannot go on from (a tool failed): the cell is `fail`. */
export class KernelFailure extends Error {
  override name = 'KernelFailure';
}

/** A requirement the kernel does not meet: the cell is `skip`. */
export class SkipCell extends Error {
  override name = 'SkipCell';
}

/** The agent did not answer a step in time: the cell is `hang`. */
export class StepHang extends Error {
  override name = 'StepHang';
}

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

  /**
   * @param disks role -> /dev/vdX when the guest's disks were mapped already (a shared guest maps all its
   * slots once); otherwise mapGuestDisks finds them by their serial ih-<role>.
   */
  constructor(public guest: Guest, readonly stepTimeoutMs: number, private readonly stepLog: string, readonly disks?: ReadonlyMap<string, string>) {}

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
    if (this.current === undefined) return;
    this.current.wallMs = Date.now() - this.currentStarted;
    this.steps.push(this.current);
    await appendFile(this.stepLog, JSON.stringify(this.current) + '\n');
    this.current = undefined;
  }

  note(text: string): void {
    if (this.current) this.current.note = this.current.note ? `${this.current.note}; ${text}` : text;
  }

  /** Runs argv in the guest; never throws for a non-zero exit (callers decide what it means). */
  async run(argv: string[], opts: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const started = Date.now();
    let r: ExecResult;
    try {
      r = await this.guest.exec(argv, { timeoutMs: opts.timeoutMs ?? this.stepTimeoutMs, ...(opts.stdin ? { stdin: opts.stdin } : {}) });
    } catch (e) {
      this.current?.commands.push({ argv, exitCode: null, durationMs: Date.now() - started, stderrTail: String(e) });
      return this.rethrow(e, argv);
    }
    const rec = { argv, exitCode: r.exitCode, durationMs: r.durationMs, ...(r.exitCode !== 0 ? { stderrTail: tail(r.stderr, 8) } : {}) };
    this.current?.commands.push(rec);
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
      return hit;
    }
    const r = await this.run(argv);
    if (r.exitCode !== null) this.onceCache?.set(key, r);
    return r;
  }

  /** Forgets a cached answer (it no longer holds, or a requirement it denies is to be asked afresh). */
  forget(argv: string[]): void {
    this.onceCache?.delete(JSON.stringify(argv));
  }

  /** Runs argv and requires exit 0: otherwise the kernel (or the stack on it) failed this step. */
  async must(argv: string[], opts: { stdin?: Buffer } = {}): Promise<ExecResult> {
    const r = await this.run(argv, opts);
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

  disagree(d: Disagreement): void {
    this.disagreements.push(d);
  }

  private rethrow(e: unknown, argv: string[]): never {
    if (e instanceof AgentTimeoutError) throw new StepHang(`'${argv.join(' ')}' did not answer within ${this.stepTimeoutMs / 1000}s`, { cause: e });
    if (e instanceof AgentClosedError) throw e;
    throw new InfraError(`agent failed running '${argv.join(' ')}': ${(e as Error).message}`, { cause: e });
  }
}

/** The scenario's own disks plus its payload and output disks: fresh, sparse images under <dir>/disks. */
export async function createCellDisks(spec: Pick<CellSpec, 'dir' | 'scenario' | 'seedDisks'>): Promise<{ plan: TransferPlan; disks: Array<{ role: string; path: string }> }> {
  const dir = join(spec.dir, 'disks');
  await mkdir(dir, { recursive: true });
  const plan = planTransfers(spec.scenario);
  const disks = [];
  for (const d of spec.scenario.disks) {
    // A compat read phase starts from the image the other kernel wrote.
    const seed = spec.seedDisks?.[d.name];
    disks.push({ role: d.name, path: seed !== undefined ? await copyImage(seed, dir, d.name) : await createImage(dir, d.name, d.size) });
  }
  disks.push({ role: 'payload', path: await createImage(dir, 'payload', plan.payloadSize) });
  disks.push({ role: 'out', path: await createImage(dir, 'out', plan.outSize) });
  return { plan, disks };
}

/** Builds the scenario's stack in a guest that is ready and runs its steps; throws what classifyError reads. */
export async function runStack(spec: CellSpec, session: GuestSession, hostDisks: Map<string, string>, plan: TransferPlan): Promise<void> {
  const type = spec.scenario.stack.type;
  const cell = type === 'crypt-aead' ? new CryptCell(spec, session, hostDisks, plan)
    : type === 'luks2' ? new LuksCell(spec, session, hostDisks, plan) : new IntegrityCell(spec, session, hostDisks, plan);
  await cell.run();
  await session.end();
}

export type Outcome = { verdict: CellResult['verdict']; reason: string } | undefined;

/**
 * The verdict from how the steps ended (`outcome`, undefined when they all ran) and the cell's console:
 * a crash in the console wins over everything, then disagreements with the model, then the steps' end.
 */
export function judgeCell(
  spec: Pick<CellSpec, 'scenario'>, session: GuestSession, outcome: Outcome, consoleText: string, qemuStderr: string,
): { verdict: CellResult['verdict']; reason: string; signature?: string } {
  const finding = scanConsole(consoleText);
  let signature: string | undefined;
  if (finding?.kind === 'crash') {
    outcome = { verdict: 'crash', reason: finding.line };
    signature = finding.signature;
  } else if (outcome === undefined && session.disagreements.length > 0) {
    const d = session.disagreements[0]!;
    outcome = { verdict: 'fail', reason: `${session.disagreements.length} disagreement(s) with the model; first: step ${d.step} ${d.kind}${d.block !== undefined ? ` block ${d.block}` : ''}: expected ${d.expected}, found ${d.found}` };
    signature = `${spec.scenario.id}: ${d.kind}`;
  } else if (outcome?.verdict === 'error' && finding?.kind === 'infra') {
    outcome = { verdict: 'error', reason: `${outcome.reason} (console: ${finding.line})` };
  } else if (outcome?.verdict === 'error' && qemuStderr.trim() !== '') {
    outcome = { verdict: 'error', reason: `${outcome.reason}; qemu: ${tail(qemuStderr, 3)}` };
  }
  if (outcome?.verdict === 'fail') signature ??= `${spec.scenario.id}: ${outcome.reason.split(':')[0]}`;
  return {
    verdict: outcome?.verdict ?? 'pass', reason: outcome?.reason ?? `${session.steps.length} steps agree with the model`,
    ...(signature !== undefined ? { signature } : {}),
  };
}

/** result.json, disagreements.json; the disks of a passing cell go unless --keep-disks. */
export async function writeCellFiles(spec: Pick<CellSpec, 'dir' | 'keepDisks'>, result: CellResult, extra: Record<string, unknown> = {}): Promise<void> {
  await writeFile(join(spec.dir, 'result.json'), JSON.stringify({ ...result, ...extra }, null, 2) + '\n');
  if (result.disagreements.length > 0) {
    await writeFile(join(spec.dir, 'disagreements.json'), JSON.stringify(result.disagreements, null, 2) + '\n');
  }
  if (result.verdict === 'pass' && !spec.keepDisks) await rm(join(spec.dir, 'disks'), { recursive: true, force: true });
}

/** Boots the guest, runs the scenario's stack and steps, powers off, and decides the verdict. */
export async function runCell(spec: CellSpec): Promise<CellResult> {
  const started = Date.now();
  const consoleLog = join(spec.dir, 'console.log');
  const stepLog = join(spec.dir, 'steps.jsonl');
  await mkdir(spec.dir, { recursive: true });
  await writeFile(stepLog, '');
  const { plan, disks } = await createCellDisks(spec);

  const qemu = {
    kernel: spec.kernel.bootImage, initrd: spec.image.path, accel: spec.accel, memoryMb: spec.memoryMb, cpus: spec.cpus,
    consoleLog, disks: disks.map((d) => ({ path: d.path, serial: `ih-${d.role}` })),
    append: spec.hooks?.cmdline,
  };
  const guest = Guest.start(qemu);
  const session = new GuestSession(guest, spec.scenario.stepTimeout * 1000, stepLog);
  session.bootFresh = async () => {
    const again = Guest.start({ ...qemu, consoleLog: join(spec.dir, SECOND_CONSOLE) });
    try {
      await again.waitReady(spec.bootTimeoutMs);
    } catch (e) {
      await again.kill();
      if (e instanceof AgentTimeoutError) throw new StepHang(`the second guest did not reach its agent within ${spec.bootTimeoutMs / 1000}s of boot`, { cause: e });
      throw e;
    }
    return again;
  };
  const result: CellResult = { verdict: 'pass', reason: '', durationMs: 0, steps: session.steps, disagreements: session.disagreements };
  let outcome: Outcome;
  try {
    const bootStart = Date.now();
    result.kernelRelease = (await bootGuest(guest, spec.bootTimeoutMs)).kernelRelease;
    result.bootMs = Date.now() - bootStart;
    const coverage = coverageHooks(spec.kernel, spec.dir);
    await coverage.before((argv, o) => guest.exec(argv, o));
    await runStack(spec, session, new Map(disks.map((d) => [d.role, d.path])), plan);
    await coverage.after((argv, o) => session.guest.exec(argv, o));
    await session.guest.powerOff(15_000);
  } catch (e) {
    await session.end().catch(() => undefined);
    outcome = classifyError(e);
    await session.guest.kill();
  }
  const exit = await session.guest.exited;
  // A kill step's second boot logs to its own file: a crash there is this cell's too.
  const consoleText = await readFile(consoleLog, 'utf8').catch(() => '') + await readFile(join(spec.dir, SECOND_CONSOLE), 'utf8').catch(() => '');
  Object.assign(result, judgeCell(spec, session, outcome, consoleText, exit.stderr));
  result.durationMs = Date.now() - started;
  await writeCellFiles(spec, result);
  return result;
}

/** Waits for the agent; a guest that never reaches it in time is a hang (of the kernel's boot). */
export async function bootGuest(guest: Guest, timeoutMs: number): Promise<{ kernelRelease: string }> {
  try {
    return await guest.waitReady(timeoutMs);
  } catch (e) {
    if (e instanceof AgentTimeoutError) throw new StepHang(`guest did not reach its agent within ${timeoutMs / 1000}s of boot`, { cause: e });
    throw e;
  }
}

export function classifyError(e: unknown): { verdict: CellResult['verdict']; reason: string } {
  if (e instanceof StepHang) return { verdict: 'hang', reason: e.message };
  if (e instanceof SkipCell) return { verdict: 'skip', reason: e.message };
  if (e instanceof KernelFailure) return { verdict: 'fail', reason: e.message };
  if (e instanceof AgentClosedError) return { verdict: 'error', reason: 'QEMU exited while the harness was talking to the guest' };
  return { verdict: 'error', reason: (e as Error).message ?? String(e) };
}
