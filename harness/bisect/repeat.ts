import { EXIT_ABORT, EXIT_BAD, EXIT_GOOD } from '../verdict/exit-code.ts';
import type { BisectDecision } from '../verdict/bisect.ts';

/**
 * A step run up to `n` times (npm run bisect --repeat). Bad as soon as one run shows the failure sought: an
 * intermittent bug makes a commit bad even when it hides in some runs, so it is never bisected past. Good
 * only when all n runs are good. Otherwise (some runs untestable, none bad) the first untestable run decides:
 * 125. A usage error aborts at once; a kernel that did not build is not built again.
 */
export async function repeatStep(n: number, once: (run: number) => Promise<BisectDecision>): Promise<BisectDecision> {
  const runs: BisectDecision[] = [];
  for (let i = 0; i < n; i++) {
    const d = await once(i);
    runs.push(d);
    if (d.code === EXIT_BAD || d.code === EXIT_ABORT || d.from === 'build-failed') return withCount(d, runs.length, n);
  }
  const notGood = runs.find((d) => d.code !== EXIT_GOOD);
  return withCount(notGood ?? runs[0]!, runs.length, n);
}

function withCount(d: BisectDecision, ran: number, n: number): BisectDecision {
  return n === 1 ? d : { ...d, reason: `${d.reason} [run ${ran} of up to ${n}]` };
}
