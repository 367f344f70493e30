/**
 * One execution's verdict, a pure function of what it left: how its steps ended, the disagreements the
 * judges returned, the console, QEMU's stderr and how QEMU ended. The evidence is weighed in a fixed order:
 * a crash on the console wins over everything; then how QEMU ended (a reset of the guest is a crash); then
 * how the steps ended (hang, fail, error, skip), except that disagreements with the model make steps that
 * all ran, or a skip part way, a fail; pass only when nothing else was found. An error judges nothing, and
 * its reason says what the console, QEMU's stderr and the disagreements before it showed.
 */
import type { GuestExit } from '../../vm/qemu/guest.ts';
import { scanConsole, userFaults } from '../console.ts';
import { tail } from '../errors.ts';
import type { StepsOutcome } from './failures.ts';
import type { Disagreement, Verdict } from './types.ts';

/** The signature of a reset nobody asked for that left no oops on the console (a triple fault, say). */
export const SILENT_RESET = 'guest reset (no oops on console)';

/**
 * What QEMU's end says when it ended on its own while the scenario ran: the guest reset or shut down
 * (with -no-reboot that ends QEMU) is the kernel's doing, `crash`; a signal the harness did not send, or
 * QEMU giving up by itself, is the host's, `error`. A crash on the console wins over this (judgeExecution).
 */
export function exitOutcome(outcome: StepsOutcome, exit: GuestExit): StepsOutcome {
  if (!outcome?.guestGone) return outcome;
  if (exit.endedBy === 'guest') {
    return {
      verdict: 'crash', signature: SILENT_RESET,
      reason: `the guest reset during the scenario (QEMU exited under -no-reboot${exit.shutdownReason ? `, QMP SHUTDOWN reason ${exit.shutdownReason}` : ''}) with no oops or panic on the console`,
    };
  }
  if (exit.endedBy === 'signal') return { verdict: 'error', reason: `QEMU was ended by ${exit.signal ?? 'a signal'} that the harness did not send (${outcome.reason})` };
  return { verdict: 'error', reason: `QEMU exited by itself (exit ${exit.exitCode ?? exit.signal}) while the harness was talking to the guest` };
}

/** What one execution left for its verdict. */
export interface ExecutionEvidence {
  scenarioId: string;
  /** what the judges found, in the order the steps recorded them */
  disagreements: readonly Disagreement[];
  /** how the steps ended; undefined when they all ran */
  outcome: StepsOutcome;
  /** how many steps ran (a pass says so) */
  steps: number;
  consoleText: string;
  qemuStderr: string;
  /** how QEMU ended, when it did during the scenario */
  exit?: GuestExit;
}

/**
 * The verdict from how the steps ended and the cell's console: a crash in the console wins over everything,
 * then disagreements with the model, then the steps' end.
 */
export function judgeExecution(e: ExecutionEvidence): { verdict: Verdict; reason: string; signature?: string } {
  const { disagreements, consoleText, exit } = e;
  let outcome = e.outcome;
  const finding = scanConsole(consoleText);
  // a panic the guest image caused (no init) also ends QEMU through a reset: the console says which it was
  if (exit !== undefined && finding?.kind !== 'infra') outcome = exitOutcome(outcome, exit);
  let signature: string | undefined;
  if (finding?.kind === 'crash') {
    outcome = { verdict: 'crash', reason: finding.line };
    signature = finding.signature;
  } else if (outcome?.signature !== undefined) {
    signature = outcome.signature;
  } else if ((outcome === undefined || outcome.verdict === 'skip') && disagreements.length > 0) {
    // a scenario that became untestable part way keeps what the kernel got wrong before: fail, not skip
    const d = disagreements[0]!;
    const rest = outcome?.verdict === 'skip' ? ` (then the rest was skipped: ${outcome.reason})` : '';
    outcome = { verdict: 'fail', reason: `${disagreements.length} disagreement(s) with the model; first: step ${d.step} ${d.kind}${d.block !== undefined ? ` block ${d.block}` : ''}: expected ${d.expected}, found ${d.found}${rest}` };
    signature = `${e.scenarioId}: ${d.kind}`;
  } else if (outcome?.verdict === 'error' && finding?.kind === 'infra') {
    outcome = { verdict: 'error', reason: `${outcome.reason} (console: ${finding.line})` };
  } else if (outcome?.verdict === 'error' && e.qemuStderr.trim() !== '') {
    outcome = { verdict: 'error', reason: `${outcome.reason}; qemu: ${tail(e.qemuStderr, 3)}` };
  }
  // An error judges nothing, but what the model already found stays in the record (and keeps --retries off it).
  if (outcome?.verdict === 'error' && disagreements.length > 0) {
    const d = disagreements[0]!;
    outcome = { verdict: 'error', reason: `${outcome.reason}; before it, ${disagreements.length} disagreement(s) with the model (disagreements.json); first: step ${d.step} ${d.kind}${d.block !== undefined ? ` block ${d.block}` : ''}: expected ${d.expected}, found ${d.found}` };
  }
  if (outcome?.verdict === 'fail') signature ??= `${e.scenarioId}: ${outcome.reason.split(':')[0]}`;
  // a guest tool that faulted: its step failed, and the kernel's report of the fault is the evidence
  const faults = userFaults(consoleText);
  if (outcome !== undefined && outcome.verdict !== 'crash' && faults.length > 0) {
    outcome = { ...outcome, reason: `${outcome.reason} (console: a guest program faulted: ${faults[0]})` };
  }
  return {
    verdict: outcome?.verdict ?? 'pass', reason: outcome?.reason ?? `${e.steps} steps agree with the model`,
    ...(signature !== undefined ? { signature } : {}),
  };
}
