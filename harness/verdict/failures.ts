/**
 * How a cell's steps end when they do not all run: the failures a step throws, and the verdict each is
 * (classifyError), which execution.ts then weighs against the console and the disagreements.
 */
import { AgentClosedError, AgentTimeoutError } from '../../vm/agent/client.ts';
import type { Verdict } from './types.ts';

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

/** How the steps ended; undefined when they all ran. */
export type StepsOutcome = {
  verdict: Verdict;
  reason: string;
  /** QEMU ended while the harness talked to the guest: how it ended decides the verdict (exitOutcome) */
  guestGone?: boolean;
  signature?: string;
} | undefined;

export function classifyError(e: unknown): NonNullable<StepsOutcome> {
  if (e instanceof StepHang) return { verdict: 'hang', reason: e.message };
  if (e instanceof SkipCell) return { verdict: 'skip', reason: e.message };
  if (e instanceof KernelFailure) return { verdict: 'fail', reason: e.message };
  if (e instanceof AgentClosedError) return { verdict: 'error', reason: 'QEMU exited while the harness was talking to the guest', guestGone: true };
  if (e instanceof AgentTimeoutError) return { verdict: 'error', reason: `the guest agent did not answer: ${e.message}` };
  return { verdict: 'error', reason: (e as Error).message ?? String(e) };
}
