/**
 * Judges the requests ih-io answers with one result line, a discard and a flush, against the errno the
 * model gives for them. Pure, like read-judge.ts and write-judge.ts: the step asks the model before the
 * request, runs it, and records what this returns.
 */
import type { IoReport, IoResult } from '../../../vm/agent/client.ts';
import type { Disagreement } from '../../verdict/types.ts';

/** The errno the model says a request ends with (0: it succeeds), and why where the errno alone does not say. */
export interface ResultExpectation {
  errno: number;
  why?: string;
}

export interface ResultJudgement {
  /** ih-io's line for the request; undefined when it reported none (the caller's infrastructure error) */
  result?: IoResult;
  disagreements: Disagreement[];
}

/** BLKDISCARD of the byte range at `offset` on the top device. */
export function judgeDiscard(step: number, exp: ResultExpectation, offset: number, report: IoReport): ResultJudgement {
  const line = report.results.find((l) => l.op === 'discard');
  if (line === undefined) return { disagreements: [] };
  if (line.errno === exp.errno) return { result: line, disagreements: [] };
  const expected = exp.why !== undefined ? `errno ${exp.errno} (${exp.why})` : exp.errno === 0 ? 'discard succeeds' : `errno ${exp.errno}`;
  return { result: line, disagreements: [{ step, kind: 'discard', sector: offset / 512, expected, found: line.ok ? 'discard succeeded' : `errno ${line.errno} (${line.error ?? '?'})` }] };
}

/** fsync of the top device (a flush request). */
export function judgeFlush(step: number, exp: ResultExpectation, report: IoReport): ResultJudgement {
  const line = report.results.find((l) => l.op === 'flush');
  if (line === undefined) return { disagreements: [] };
  if (line.errno === exp.errno) return { result: line, disagreements: [] };
  return { result: line, disagreements: [{ step, kind: 'flush', expected: exp.errno === 0 ? 'flush succeeds' : `errno ${exp.errno}`, found: line.ok ? 'flush succeeded' : `errno ${line.errno}` }] };
}
