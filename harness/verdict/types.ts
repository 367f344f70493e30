/**
 * The verdict's vocabulary, at the bottom of the import graph: the run, the reporters and the comparisons
 * all speak it, and it imports nothing.
 */

export type Verdict = 'pass' | 'fail' | 'crash' | 'hang' | 'error' | 'skip';

/** Where what the kernel did disagrees with the model: what the judges return and a `fail` is made of. */
export interface Disagreement {
  step: number;
  /** silent-acceptance | false-alarm | data-mismatch | wrong-errno | wrong-failing-blocks | mismatch-counter | log | flush-reach (a lower disk a flush had to reach counted none) */
  kind: string;
  /** Block index on the top device, when the disagreement is about one block. */
  block?: number;
  /** Logical 512-byte sector where that block starts. */
  sector?: number;
  expected: string;
  found: string;
}

/** How one execution of a cell ended: shared by the in-memory result, each run record and the summary's cell. */
export interface Outcome {
  verdict: Verdict;
  reason: string;
  durationMs: number;
  bootMs?: number;
  /** Normalised failure signature (crash: oops type + function; fail: scenario + first disagreement kind). */
  signature?: string;
}
