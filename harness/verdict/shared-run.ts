import type { RunRecord, SharedRunRecord } from '../results.ts';
import { isJudged, worstVerdict } from './order.ts';

/**
 * The verdict of an execution that crashed, hung or failed in a shared sequence (`shared`), once it ran again
 * first in a fresh guest (`rerun`): the shared run's, never laundered into the fresh guest's pass; the fresh
 * guest's only when it is worse (a crash where the shared run failed). An error or skip of the fresh guest
 * judges nothing and leaves the shared run's verdict. `pair` is what both result.json files record as
 * `sharedRun` (the caller writes them).
 */
export function sharedRunVerdict(rerun: RunRecord, shared: SharedRunRecord): { record: RunRecord; pair: SharedRunRecord } {
  const pair: SharedRunRecord = {
    ...shared,
    rerun: { verdict: rerun.verdict, reason: rerun.reason, ...(rerun.signature !== undefined ? { signature: rerun.signature } : {}), dir: rerun.dir },
  };
  const rerunWorse = isJudged(rerun.verdict) && worstVerdict([shared.verdict, rerun.verdict]) !== shared.verdict;
  const fresh = rerun.verdict === 'pass' ? 'passed (the failure needs the scenarios before it)' : `${rerun.verdict}: ${rerun.reason}`;
  const record: RunRecord = rerunWorse
    ? { ...rerun, reason: `${rerun.reason} (in the shared guest after ${shared.before.join(', ')} it was ${shared.verdict}: ${shared.reason})`, sharedRun: pair }
    : {
      ...rerun, verdict: shared.verdict, dir: shared.dir, guest: shared.guest, sharedRun: pair,
      reason: `${shared.reason} (in a shared guest after ${shared.before.join(', ') || 'nothing'}; run again first in a fresh guest it ${fresh})`,
      ...(shared.signature !== undefined ? { signature: shared.signature } : {}),
    };
  if (!rerunWorse && shared.signature === undefined) delete record.signature;
  return { record, pair };
}
