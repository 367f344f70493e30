import type { RunRecord } from '../results.ts';
import { isJudged, worstVerdict } from './order.ts';
import type { Verdict } from './types.ts';

export interface Combined {
  verdict: Verdict;
  reason: string;
  flaky: boolean;
  /** The execution the verdict comes from (its directory holds the evidence). */
  from: RunRecord;
}

/** The last attempt of each repetition: a retry replaces the infrastructure error before it. */
export function finalAttempts(runs: readonly RunRecord[]): RunRecord[] {
  const last = new Map<number, RunRecord>();
  for (const r of runs) {
    const prev = last.get(r.repeat);
    if (prev === undefined || r.attempt > prev.attempt) last.set(r.repeat, r);
  }
  return [...last.values()].sort((a, b) => a.repeat - b.repeat);
}

/**
 * Folds a cell's executions into one verdict. Flaky means the repetitions judged the kernel differently
 * (pass and fail, fail and crash, ...); an infrastructure error beside passes is not flakiness of the kernel.
 */
export function combineRuns(runs: readonly RunRecord[]): Combined {
  if (runs.length === 0) throw new Error('combineRuns: no executions');
  const finals = finalAttempts(runs);
  const verdict = worstVerdict(finals.map((r) => r.verdict));
  const from = finals.find((r) => r.verdict === verdict)!;
  const judged = new Set(finals.map((r) => r.verdict).filter(isJudged));
  const flaky = judged.size > 1;
  const retried = runs.length - finals.length;
  let reason = from.reason;
  if (flaky) {
    const tally = [...judged].map((v) => `${finals.filter((r) => r.verdict === v).length} ${v}`).join(', ');
    reason = `flaky: ${tally} in ${finals.length} repetitions; repetition ${from.repeat}: ${from.reason}`;
  } else if (finals.length > 1) {
    reason = `${finals.filter((r) => r.verdict === verdict).length}/${finals.length} repetitions ${verdict}: ${from.reason}`;
  }
  if (retried > 0) reason += ` (${retried} infrastructure error(s) retried)`;
  return { verdict, reason, flaky, from };
}
