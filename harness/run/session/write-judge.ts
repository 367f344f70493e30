/**
 * Judges one `ih-io copy` onto the top device against what the model says the write must do: a write the
 * model accepts must succeed in every I/O (and at fsync, for a buffered write, whose errors surface after
 * writeback); a write it refuses must fail in every I/O with the model's errno. Pure, like read-judge.ts:
 * the step asks the model before the I/O, runs it, and records what this returns, so a stored run is
 * judged the same way.
 */
import type { IoEvent, IoReport } from '../../../vm/agent/client.ts';
import type { Disagreement } from '../../verdict/types.ts';

/** What the model says a write request must do (model expectWrite; dm-crypt's AEAD cells accept every write). */
export type WriteExpectation = { ok: true } | { ok: false; errno: number };

export interface WriteRequest {
  step: number;
  /** byte offset and length on the top device, and the size of each I/O */
  offset: number;
  length: number;
  bs: number;
}

export interface WriteJudgement {
  disagreements: Disagreement[];
  /** a read of the payload disk failed: the harness's own disk, so the caller's infrastructure error */
  sourceFailed?: IoEvent;
  /** ih-io exited non-zero on a write the model accepts and reported no failed write or fsync to say why */
  unexplainedExit: boolean;
}

export function judgeWrite(exp: WriteExpectation, req: WriteRequest, report: IoReport, exitCode: number | null): WriteJudgement {
  const out: WriteJudgement = { disagreements: [], unexplainedExit: false };
  const d = (x: Omit<Disagreement, 'step'>) => out.disagreements.push({ step: req.step, ...x });
  const sourceFailed = report.ios.find((l) => l.op === 'read' && !l.ok);
  if (sourceFailed !== undefined) {
    out.sourceFailed = sourceFailed;
    return out;
  }
  const failed = report.ios.filter((l) => l.op === 'write' && !l.ok);
  if (exp.ok) {
    for (const f of failed) d({ kind: 'write-failed', sector: f.off / 512, expected: 'write succeeds', found: `errno ${f.errno} (${f.error ?? '?'})` });
    const sync = report.results.find((l) => l.op === 'fsync' && !l.ok);
    if (sync) d({ kind: 'write-failed', sector: req.offset / 512, expected: 'fsync after the writes succeeds', found: `errno ${sync.errno} (${sync.error ?? '?'})` });
    out.unexplainedExit = exitCode !== 0 && failed.length === 0 && !sync;
    return out;
  }
  // every I/O of the range must fail with the model's errno; ih-io logs failed writes only
  const chunks = Math.ceil(req.length / req.bs);
  if (failed.length < chunks) {
    d({ kind: 'write-accepted', sector: req.offset / 512, expected: `all ${chunks} write(s) fail with errno ${exp.errno}`, found: `${chunks - failed.length} succeeded` });
  }
  for (const f of failed.filter((x) => x.errno !== exp.errno)) {
    d({ kind: 'wrong-errno', sector: f.off / 512, expected: `errno ${exp.errno}`, found: `errno ${f.errno} (${f.error ?? '?'})` });
  }
  return out;
}
