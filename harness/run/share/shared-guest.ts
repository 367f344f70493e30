/**
 * One booted guest running several scenarios one after the other (docs/ARCHITECTURE.md, "Shared guests";
 * the scheduling rules are share.ts). Every scenario has its own fresh disk images, attached as a slot of
 * virtio disks with serials ih<slot>-<role> when QEMU starts; the guest maps them all once after boot.
 * Between two scenarios the guest must be as it booted (guest-state.ts); each scenario's console is its own
 * slice of the guest's console, cut at kmsg markers.
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentTimeoutError, type ExecResult } from '../../../vm/agent/client.ts';
import { Guest, type GuestExit } from '../../../vm/qemu/guest.ts';
import { scanConsole } from '../../console.ts';
import { tail } from '../../errors.ts';
import { SILENT_RESET } from '../../verdict/execution.ts';
import { classifyError, type StepsOutcome } from '../../verdict/failures.ts';
import {
  createCellDisks, GuestSession, qemuDisk, hostSideOutcome, judgeCell, writeCellFiles, type CellDisk, type CellSpec,
} from '../session/cell.ts';
import { runScenario } from '../run-cell.ts';
import { GuestWorker, STOP_TIMEOUT_MS } from '../worker/guest-worker.ts';
import type { TransferPlan } from '../session/disks.ts';
import { leftovers, LOG_CLASSES, logClassOf, parseGuestState, ratelimitCarry, STATE_ARGV, type GuestState, type LogClass } from './guest-state.ts';
import { LIST_DISKS_ARGV, parseDiskList } from '../session/guest-disks.ts';
import type { CellResult } from '../session/observations.ts';
import type { SharedGuestHandle, SlotRun } from './share.ts';

export interface SharedSlotRun extends SlotRun {
  result: CellResult;
  /** the guest's directory (console.log, guest.json) */
  guestDir: string;
  /** ids of the scenarios that ran before this one in the same guest, in order */
  before: string[];
}

/** What the console (or QEMU's end) showed after a scenario ended and before the next began. */
interface AfterEnd {
  verdict: 'crash' | 'hang';
  reason: string;
  signature: string;
  /** the console text between the scenario's end marker and the next begin marker (or QEMU's end) */
  text: string;
}

/** The last scenario that passed or skipped, until the console after it has been read. */
interface Finished {
  spec: CellSpec;
  run: SharedSlotRun;
  entry: SlotLog;
  after?: AfterEnd;
}

/** What makes two cells able to share a guest: the same QEMU command line apart from their disks. */
export function guestKey(spec: CellSpec): string {
  return JSON.stringify([spec.kernel.bootImage, spec.image.path, spec.accel, spec.memoryMb, spec.cpus, spec.bootTimeoutMs, spec.hooks?.cmdline ?? []]);
}

/** Disks a cell attaches: its scenario's plus payload and out. */
export function slotDisks(spec: Pick<CellSpec, 'scenario'>): number {
  return spec.scenario.disks.length + 2;
}

/**
 * Disks one shared guest attaches (vm/qemu/args.ts puts eight on each PCI slot): 16 scenarios of three disks,
 * the default --share-guest, with room to spare under MAX_DISKS.
 */
export const DISK_BUDGET = 48;

const STATE_TIMEOUT_MS = 30_000;
const MARKER_WAIT_MS = 20_000;

interface Slot {
  spec: CellSpec;
  plan: TransferPlan;
  disks: CellDisk[];
  serialPrefix: string;
}

/** What the guest log (guests/<n>/guest.json) says about each scenario it ran. */
interface SlotLog {
  id: string;
  scenario: string;
  position: number;
  verdict: string;
  durationMs: number;
  /** waited for dm's ratelimit windows: before the first read the model expected to fail, or before the setup */
  waitedMs?: number;
  waitedBeforeSetup?: boolean;
  /** the state check after the scenario, and the wait for its end marker on the console */
  stateMs?: number;
  markerMs?: number;
  leftovers?: string[];
  stateCheck?: string;
  consoleNudges?: number;
  /** what the console (or QEMU's end) showed after the scenario ended, which made it crash or hang */
  afterEnd?: string;
}

export class SharedGuest implements SharedGuestHandle<CellSpec, SharedSlotRun> {
  /** the guest's lifecycle (worker/guest-worker.ts): booting until its first scenario, ready between scenarios */
  private worker: GuestWorker<Guest> | undefined;
  private kernelRelease: string | undefined;
  private baseline: GuestState | undefined;
  /** serial -> /dev/vdX */
  private devices = new Map<string, string>();
  private bootPart = '';
  /** console offset where the previous scenario's slice ended */
  private consumed = 0;
  /**
   * dm's ratelimit windows earlier scenarios may have left open, per class of counted line: host clock time
   * before which a read the model expects to fail must not begin, and whether the next scenario of that class
   * must not even begin (guest-state.ts, ratelimitCarry).
   */
  private readonly carry = new Map<LogClass, { until: number; beforeSetup: boolean }>();
  private readonly log: SlotLog[] = [];
  /** answers that hold for the guest's whole life (GuestSession.onceCache) */
  private readonly once = new Map<string, ExecResult>();
  private openError: string | undefined;
  /** the previous scenario, while it passed or skipped: what follows its end is still its own */
  private last: Finished | undefined;
  private readonly finished = new Map<CellSpec, Finished>();
  /** the state check after a scenario failed on this (a timeout: the guest stopped answering) */
  private stateError: unknown;

  private constructor(private readonly slots: Slot[], private readonly dir: string) {}

  /** Creates every slot's fresh disks and starts QEMU with all of them. */
  static async open(batch: CellSpec[], dir: string): Promise<SharedGuest> {
    const slots: Slot[] = [];
    const g = new SharedGuest(slots, dir);
    try {
      await mkdir(dir, { recursive: true });
      for (const [i, spec] of batch.entries()) {
        await mkdir(spec.dir, { recursive: true });
        const { plan, disks } = await createCellDisks(spec);
        slots.push({ spec, plan, disks, serialPrefix: `ih${i}-` });
      }
      const first = batch[0]!;
      g.worker = new GuestWorker(Guest.start({
        kernel: first.kernel.bootImage, initrd: first.image.path, accel: first.accel, memoryMb: first.memoryMb, cpus: first.cpus,
        consoleLog: g.consolePath, append: first.hooks?.cmdline,
        disks: slots.flatMap((s) => s.disks.map((d) => qemuDisk(d, `${s.serialPrefix}${d.role}`))),
      }), { startMs: first.bootTimeoutMs, stopMs: STOP_TIMEOUT_MS });
    } catch (e) {
      g.openError = `could not set up the shared guest: ${(e as Error).message}`;
    }
    return g;
  }

  get consolePath(): string {
    return join(this.dir, 'console.log');
  }

  async run(spec: CellSpec, position: number): Promise<SharedSlotRun> {
    const started = Date.now();
    const slot = this.slots.find((s) => s.spec === spec);
    const stepLog = join(spec.dir, 'steps.jsonl');
    await writeFile(stepLog, '').catch(() => undefined);
    const worker = this.worker;
    if (slot === undefined || worker === undefined) {
      const reason = this.openError ?? `${spec.id} has no slot in this shared guest`;
      const result: CellResult = { verdict: 'error', reason, durationMs: Date.now() - started, steps: [], disagreements: [] };
      await writeCellFiles(spec, result).catch(() => undefined);
      return { verdict: 'error', reusable: false, result, guestDir: this.dir, before: [] };
    }
    const guest = worker.vm;
    const entry: SlotLog = { id: spec.id, scenario: spec.scenario.id, position, verdict: 'error', durationMs: 0 };
    this.log.push(entry);
    const result: CellResult = { verdict: 'pass', reason: '', durationMs: 0, steps: [], disagreements: [] };
    let outcome: StepsOutcome;
    let session = new GuestSession(guest, spec.scenario.stepTimeout * 1000, stepLog);
    const begin = `ih: scenario ${position} ${spec.scenario.id} begin`;
    const end = `ih: scenario ${position} ${spec.scenario.id} end`;
    let reusable = true;
    let began = false;
    let host: string | undefined;
    let afterSteps: string | undefined;
    const prev = this.last;
    this.last = undefined;
    try {
      if (worker.state === 'booting') {
        const booted = await worker.boot();
        this.kernelRelease = booted.kernelRelease;
        result.bootMs = booted.bootMs;
        await this.afterBoot();
      }
      if (this.kernelRelease !== undefined) result.kernelRelease = this.kernelRelease;
      const cls = logClassOf(spec.scenario.stack.type);
      if (this.carry.get(cls)?.beforeSetup) await this.waitForRatelimit(entry, cls);
      session = new GuestSession(guest, spec.scenario.stepTimeout * 1000, stepLog, this.slotDevices(slot));
      // Everything before the scenario's first read the model expects to fail runs during the wait.
      if (this.carry.has(cls)) session.ratelimitGate = () => this.waitForRatelimit(entry, cls);
      session.onceCache = this.once;
      await runScenario(worker, spec, session, new Map(slot.disks.map((d) => [d.role, d.path])), slot.plan, async () => {
        await guest.mark(`${begin}\n`);
        began = true;
      });
    } catch (e) {
      await session.end().catch(() => undefined);
      const plain = classifyError(e);
      outcome = await hostSideOutcome(guest, plain);
      if (outcome !== plain) host = outcome?.reason;
    }
    Object.assign(result, { steps: session.steps, disagreements: session.disagreements });
    if (outcome === undefined || outcome.verdict === 'skip') {
      // a skip stopped the scenario while it ran: the guest may still take the next one
      if (worker.state === 'running') worker.end();
      const stateStart = Date.now();
      this.stateError = undefined;
      reusable = await this.checkState(entry);
      entry.stateMs = Date.now() - stateStart;
      // With its newline the record is complete at once; without one printk keeps it open for a
      // continuation and the console prints it only when the next record arrives.
      const markerStart = Date.now();
      let markError: unknown;
      await guest.mark(`${end}\n`).catch((e: unknown) => {
        reusable = false;
        markError = e;
      });
      if (!(await this.waitForConsole(end, entry))) entry.stateCheck = `${entry.stateCheck ?? ''} end marker not on the console after ${MARKER_WAIT_MS / 1000}s`.trim();
      entry.markerMs = Date.now() - markerStart;
      if (spec.hooks?.afterEnd !== undefined) await guest.exec(spec.hooks.afterEnd, { timeoutMs: STATE_TIMEOUT_MS }).catch(() => undefined);
      // QEMU closed the channel: let it finish ending, so how it ended is known now
      if (guest.agent.streamEnded) await Promise.race([guest.exited, sleep(5000)]);
      // the scenario's steps all ran; a guest that stops answering now does so after them
      const silent = [this.stateError, markError].find((e) => e instanceof AgentTimeoutError);
      if (silent !== undefined && guest.state !== 'exited') {
        host = await guest.hostFault().catch(() => undefined);
        afterSteps = host ?? `the guest stopped answering after the scenario's steps ended (${(silent as Error).message})`;
      }
    } else {
      reusable = false;
      await worker.retire('kill');
    }
    const text = await readFile(this.consolePath, 'utf8').catch(() => '');
    const { own: consoleText, gap } = this.slice(text, position, begin, end);
    await writeFile(join(spec.dir, 'console.log'), consoleText);
    const exit = guest.state === 'exited' ? await guest.exited : undefined;
    if (prev !== undefined) this.judgeGap(prev, gap, began ? undefined : { outcome, exit, host });
    if (!began && prev !== undefined) {
      // the guest ended or stopped before this scenario's first step: nothing here is this scenario's
      outcome = { verdict: 'error', reason: `the shared guest was lost before this scenario began, after ${prev.spec.scenario.id} ended: ${outcome?.reason ?? 'no answer'}` };
    }
    Object.assign(result, judgeCell(spec, session, outcome, consoleText, exit?.stderr ?? '', began || prev === undefined ? exit : undefined));
    const trailer = scanConsole(text.slice(this.consumed));
    // a pass or a skip may still end worse; so may a fail (a crash, reset or hang after it is worse), but the
    // host's faults never turn what the kernel already got wrong into an infrastructure error
    const decided = result.verdict === 'pass' || result.verdict === 'skip';
    const failed = result.verdict === 'fail';
    if ((decided || failed) && exit !== undefined && trailer?.kind === 'crash') {
      // the guest died after the end marker: what the console says after it is this scenario's
      Object.assign(result, { verdict: 'crash', signature: trailer.signature, reason: `${trailer.line} (on the console after the scenario ended)` });
      await appendFile(join(spec.dir, 'console.log'), `--- ih: the shared guest's console after this scenario ended (${this.consolePath}) ---\n${text.slice(this.consumed)}`);
      this.consumed = text.length;
    } else if (decided || failed) {
      if (exit !== undefined && exit.endedBy === 'guest') {
        Object.assign(result, { verdict: 'crash', signature: SILENT_RESET, reason: `the guest reset after the scenario's steps ended (QEMU exited under -no-reboot${exit.shutdownReason ? `, ${exit.shutdownReason}` : ''}) with no oops or panic on the console` });
      } else if (exit !== undefined && decided) {
        Object.assign(result, { verdict: 'error', reason: `QEMU ended after the scenario's steps ended (${exit.endedBy === 'signal' ? `${exit.signal ?? 'a signal'} the harness did not send` : `exit ${exit.exitCode}`})${exit.stderr.trim() ? `: ${tail(exit.stderr, 3)}` : ''}` });
      } else if (afterSteps !== undefined && host === undefined) {
        Object.assign(result, { verdict: 'hang', reason: afterSteps, signature: `${spec.scenario.id}: hang` });
      } else if (afterSteps !== undefined && decided) {
        Object.assign(result, { verdict: 'error', reason: afterSteps });
      }
    }
    result.durationMs = Date.now() - started;
    entry.verdict = result.verdict;
    entry.durationMs = result.durationMs;
    const before = this.log.slice(0, -1).map((l) => l.scenario);
    await writeCellFiles(spec, result, { sharedGuest: { dir: this.dir, position, ...(before.length > 0 ? { before } : {}) } });
    // a fail whose guest passed the state check hands it on (share.ts); anything worse retires it
    const handsOn = (result.verdict === 'pass' || result.verdict === 'skip' || (result.verdict === 'fail' && reusable)) && guest.state !== 'exited';
    if (!handsOn && result.verdict !== 'pass' && result.verdict !== 'skip') await worker.retire('kill');
    const run: SharedSlotRun = { verdict: result.verdict, reusable: reusable && guest.state !== 'exited', result, guestDir: this.dir, before };
    if (handsOn || result.verdict === 'pass' || result.verdict === 'skip') {
      this.last = { spec, run, entry };
      this.finished.set(spec, this.last);
    }
    return run;
  }

  /**
   * The console between `prev`'s end marker and the next begin marker (or QEMU's end) is `prev`'s: a crash
   * there was found after it ended. When the next scenario never began because the guest reset or stopped
   * answering (and the host has no part in it), that too happened after `prev` ended.
   */
  private judgeGap(prev: Finished, gap: string, lost?: { outcome: StepsOutcome; exit: GuestExit | undefined; host: string | undefined }): void {
    const finding = scanConsole(gap);
    if (finding?.kind === 'crash') {
      prev.after = { verdict: 'crash', signature: finding.signature, text: gap, reason: `${finding.line} (on the console after ${prev.spec.scenario.id} ended, before the next scenario began)` };
      return;
    }
    if (lost === undefined || lost.host !== undefined || finding?.kind === 'infra') return;
    if (lost.outcome?.guestGone && lost.exit?.endedBy === 'guest') {
      prev.after = {
        verdict: 'crash', signature: SILENT_RESET, text: gap,
        reason: `the guest reset after ${prev.spec.scenario.id} ended, before the next scenario began (QEMU exited under -no-reboot${lost.exit.shutdownReason ? `, ${lost.exit.shutdownReason}` : ''}), with no oops or panic on the console`,
      };
    } else if (lost.outcome?.verdict === 'error' && /did not answer/.test(lost.outcome.reason)) {
      prev.after = { verdict: 'hang', signature: `${prev.spec.scenario.id}: hang`, text: gap, reason: `the guest stopped answering after ${prev.spec.scenario.id} ended: ${lost.outcome.reason}` };
    }
  }

  /** The run of `spec` judged again with what came after its end (share.ts asks once that is known). */
  async after(spec: CellSpec): Promise<SharedSlotRun | undefined> {
    const f = this.finished.get(spec);
    this.finished.delete(spec);
    if (f?.after === undefined) return undefined;
    const a = f.after;
    const result: CellResult = { ...f.run.result, verdict: a.verdict, reason: a.reason, signature: a.signature };
    f.entry.verdict = a.verdict;
    f.entry.afterEnd = a.reason;
    if (this.worker?.vm.state === 'exited') await this.writeLog();
    await appendFile(join(spec.dir, 'console.log'), `--- ih: the shared guest's console after this scenario ended (${this.consolePath}) ---\n${a.text}`).catch(() => undefined);
    await writeCellFiles(spec, result, { sharedGuest: { dir: this.dir, position: f.entry.position, ...(f.run.before.length > 0 ? { before: f.run.before } : {}) }, afterEnd: a.reason });
    return { ...f.run, verdict: a.verdict, reusable: false, result };
  }

  async close(): Promise<void> {
    const g = this.worker?.vm;
    const running = g !== undefined && g.state !== 'exited';
    // a worker ready between scenarios powers off; one that never booted, or whose QEMU ended, is killed
    await this.worker?.retire();
    // the last scenario's console goes on to QEMU's end
    const last = this.last;
    this.last = undefined;
    if (g !== undefined && last !== undefined) {
      const gap = (await readFile(this.consolePath, 'utf8').catch(() => '')).slice(this.consumed);
      const exit = await g.exited;
      this.judgeGap(last, gap, running ? undefined : { outcome: { verdict: 'error', reason: 'QEMU ended', guestGone: true }, exit, host: undefined });
    }
    await this.writeLog();
  }

  private async writeLog(): Promise<void> {
    await writeFile(join(this.dir, 'guest.json'), JSON.stringify({
      kernelRelease: this.kernelRelease, slots: this.slots.map((s) => s.spec.id), ran: this.log,
      ...(this.worker !== undefined ? { lifecycle: this.worker.history } : {}),
    }, null, 2) + '\n').catch(() => undefined);
  }

  /** Maps every slot's disks in one round trip and records the state every scenario must leave behind. */
  private async afterBoot(): Promise<void> {
    const guest = this.worker!.vm;
    const ls = await guest.exec(LIST_DISKS_ARGV, { timeoutMs: STATE_TIMEOUT_MS });
    for (const [serial, dev] of parseDiskList(ls.stdout.toString())) this.devices.set(serial, dev);
    const st = await guest.exec(STATE_ARGV, { timeoutMs: STATE_TIMEOUT_MS });
    this.baseline = parseGuestState(st.stdout.toString());
  }

  private slotDevices(slot: Slot): Map<string, string> {
    const out = new Map<string, string>();
    for (const d of slot.disks) {
      const dev = this.devices.get(`${slot.serialPrefix}${d.role}`);
      if (dev !== undefined) out.set(d.role, dev);
    }
    return out;
  }

  /** Whether the guest is as it booted; sets how long the next scenario waits for dm's ratelimit. */
  private async checkState(entry: SlotLog): Promise<boolean> {
    try {
      const r = await this.worker!.vm.exec(STATE_ARGV, { timeoutMs: STATE_TIMEOUT_MS });
      const st = parseGuestState(r.stdout.toString());
      const left = leftovers(this.baseline!, st);
      for (const cls of LOG_CLASSES) {
        const carry = ratelimitCarry(st, cls);
        // a scenario that did not wait (it read nothing the model expected to fail, or it was skipped, or it
        // is of the other class) leaves what there was to wait for as it was
        const prev = this.carry.get(cls);
        const next = carry.waitMs > 0 ? { until: Date.now() + carry.waitMs, beforeSetup: carry.burstUsed } : undefined;
        const merged = prev === undefined ? next
          : next === undefined ? prev : { until: Math.max(prev.until, next.until), beforeSetup: prev.beforeSetup || next.beforeSetup };
        if (merged === undefined || merged.until <= Date.now()) this.carry.delete(cls);
        else this.carry.set(cls, merged);
      }
      if (left.length > 0) entry.leftovers = left;
      return left.length === 0;
    } catch (e) {
      entry.stateCheck = (e as Error).message;
      this.stateError = e;
      return false;
    }
  }

  private async waitForRatelimit(entry: SlotLog, cls: LogClass): Promise<void> {
    const carry = this.carry.get(cls);
    this.carry.delete(cls);
    const wait = carry === undefined ? 0 : carry.until - Date.now();
    if (wait <= 0) return;
    entry.waitedMs = wait;
    if (carry!.beforeSetup) entry.waitedBeforeSetup = true;
    await sleep(wait);
  }

  /**
   * The end marker goes through printk to the serial console: wait until QEMU has written it. Should it
   * not come (a marker without its newline stayed unprinted until the next record), every second
   * another record nudges the console.
   */
  private async waitForConsole(marker: string, entry: SlotLog): Promise<boolean> {
    const deadline = Date.now() + MARKER_WAIT_MS;
    let nudgeAt = Date.now() + 1000;
    while (Date.now() < deadline) {
      const text = await readFile(this.consolePath, 'utf8').catch(() => '');
      if (text.includes(marker, this.consumed)) return true;
      if (Date.now() >= nudgeAt) {
        entry.consoleNudges = (entry.consoleNudges ?? 0) + 1;
        await this.worker!.vm.mark('ih: console flush\n').catch(() => undefined);
        nudgeAt = Date.now() + 1000;
      }
      await sleep(50);
    }
    return false;
  }

  /**
   * The cell's console: the guest's boot (its kernel may have said something there that concerns every
   * cell, as in a guest of its own) and then only its own scenario, from its begin marker to its end
   * marker (or QEMU's end).
   */
  private slice(text: string, position: number, begin: string, end: string): { own: string; gap: string } {
    const lineStart = (i: number) => text.lastIndexOf('\n', i) + 1;
    const b = text.indexOf(begin, this.consumed);
    if (position === 0) this.bootPart = b >= 0 ? text.slice(0, lineStart(b)) : text;
    const gapStart = Math.max(this.consumed, this.bootPart.length);
    // before the begin marker: the previous scenario's afterlife (or, when the marker never came, all that is left)
    const gap = position === 0 ? '' : b >= 0 ? text.slice(gapStart, lineStart(b)) : text.slice(gapStart);
    if (b < 0 && position > 0) {
      this.consumed = text.length;
      return { own: this.bootPart + `--- ih: this scenario's begin marker never reached the console ---\n`, gap };
    }
    const from = b >= 0 ? lineStart(b) : gapStart;
    const e = text.indexOf(end, from);
    const to = e >= 0 ? (text.indexOf('\n', e) >= 0 ? text.indexOf('\n', e) + 1 : text.length) : text.length;
    this.consumed = to;
    const own = from < to ? text.slice(from, to) : '';
    const skipped = from - this.bootPart.length;
    const note = position > 0 && skipped > 0
      ? `--- ih: ${skipped} bytes of the ${position} scenario(s) before this one in the shared guest left out (${this.consolePath}) ---\n`
      : '';
    return { own: this.bootPart + note + own, gap };
  }
}
