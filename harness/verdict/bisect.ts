/**
 * One bisect step's verdict for `git bisect run`, which reads the script's exit code: 0 good, 1-127 except 125
 * bad, 125 skip (cannot test this commit), anything above 127 aborts the bisection. The codes are the
 * matrix's (exit-code.ts): 0, 1, 125 and 255 (abort: a usage error).
 */
import { EXIT_ABORT, EXIT_BAD, EXIT_GOOD, EXIT_SKIP } from './exit-code.ts';
import { isFailure } from './order.ts';
import type { Verdict } from './types.ts';

export type BisectExit = typeof EXIT_GOOD | typeof EXIT_BAD | typeof EXIT_SKIP | typeof EXIT_ABORT;

/** What bisect needs of one finished cell. */
export interface BisectCell {
  id: string;
  verdict: Verdict;
  /** The guest reached its agent: a failure before that is the kernel not booting, not the scenario failing. */
  booted: boolean;
  signature?: string;
  /** Scenario id; without it, taken from `id` ("<kernel>/<scenario>"). */
  scenario?: string;
  /** Why it ended so (a skip's unmet requirement, an error's cause). */
  reason?: string;
}

const scenarioOf = (c: BisectCell) => c.scenario ?? c.id.slice(c.id.indexOf('/') + 1);

/**
 * Whether a cell's scenario is one whose failure the bisection looks for: one named in `sought` (npm run
 * bisect passes the bad end's failing scenarios) or by a "<scenario>: <kind>" signature; with neither
 * signatures nor sought scenarios, any failure is bad, so every scenario is sought.
 */
export function isSought(c: BisectCell, signatures: readonly string[], sought: readonly string[]): boolean {
  if (signatures.length === 0 && sought.length === 0) return true;
  const scenario = scenarioOf(c);
  return sought.includes(scenario) || signatures.some((sig) => sig.startsWith(`${scenario}: `));
}

/**
 * What a failure is, for "the same failure as on the bad end": the cell's normalised signature (oops type +
 * function, or "<scenario>: <disagreement kind>"), else "<scenario>: <verdict>" (a hang without an oops).
 * Never the kernel label: it changes with every commit.
 */
export function failureSignature(cell: BisectCell): string {
  if (cell.signature !== undefined) return cell.signature;
  return `${scenarioOf(cell)}: ${cell.verdict}`;
}

/** The signatures a bisection looks for, from the failed cells of the bad end (those that booted, see decideBisectExit). */
export function deriveSignatures(badCells: readonly BisectCell[]): string[] {
  return [...new Set(badCells.filter((c) => isFailure(c.verdict)).map(failureSignature))];
}

/** How one bisect step ended before any verdict: the tree did not build, or the harness itself failed. */
export type BisectStep =
  | { kind: 'usage'; message: string }
  | { kind: 'build-failed'; message: string }
  | { kind: 'infra'; message: string }
  | { kind: 'cells'; cells: BisectCell[] };

export interface BisectDecision {
  code: BisectExit;
  reason: string;
  /** How the step ended: before building, at the build, in the harness, or with cells judged. */
  from: BisectStep['kind'];
  /** Every cell of the step, when cells ran. */
  cells?: BisectCell[];
  /** The cells that made it bad. */
  bad?: BisectCell[];
}


/**
 * The exit code of one step. Bad only for a failure the bisection is about: with `signatures`, a cell whose
 * failure signature is one of them (even if it kept the kernel from booting); without, a cell that booted and
 * then failed. A kernel that did not boot, or failed differently, or a step that built nothing or errored,
 * cannot say good or bad: 125. Nor can a step where a sought scenario (isSought) skipped: the failure looked
 * for could not have shown there, so the commit is untestable, never good.
 */
export function decideBisectExit(step: BisectStep, signatures: readonly string[] = [], sought: readonly string[] = []): BisectDecision {
  if (step.kind === 'usage') return { code: EXIT_ABORT, reason: `usage error: ${step.message}`, from: step.kind };
  if (step.kind === 'build-failed') return { code: EXIT_SKIP, reason: `cannot test this commit, the kernel did not build: ${step.message}`, from: step.kind };
  if (step.kind === 'infra') return { code: EXIT_SKIP, reason: `cannot test this commit, infrastructure error: ${step.message}`, from: step.kind };
  const { cells } = step;
  return { ...decideOnCells(cells, signatures, sought), cells, from: step.kind };
}

function decideOnCells(cells: BisectCell[], signatures: readonly string[], sought: readonly string[]): Omit<BisectDecision, 'from'> {
  if (cells.length === 0) return { code: EXIT_SKIP, reason: 'no cell ran' };
  const failed = cells.filter((c) => isFailure(c.verdict));
  const bad = failed.filter((c) => (signatures.length === 0 ? c.booted : signatures.includes(failureSignature(c))));
  if (bad.length > 0) {
    return { code: EXIT_BAD, reason: `bad: ${bad.map((c) => `${c.id} ${c.verdict} (${failureSignature(c)})`).join('; ')}`, bad };
  }
  const unbooted = failed.filter((c) => !c.booted);
  if (unbooted.length > 0) {
    return { code: EXIT_SKIP, reason: `cannot test this commit, the kernel did not boot: ${unbooted.map((c) => `${c.id} ${c.verdict}`).join('; ')}` };
  }
  if (failed.length > 0) {
    return {
      code: EXIT_SKIP,
      reason: `cannot test this commit, it fails differently: ${failed.map((c) => `${c.id} ${c.signature ?? c.verdict}`).join('; ')} (looking for ${signatures.join(' | ')})`,
    };
  }
  // As for the matrix's exit code: an errored cell (a kernel its guest could not test among them) leaves the
  // commit unjudged; so does a skipped cell of a sought scenario. Other skips (a scenario this kernel cannot
  // run, whose failure is not looked for) do not, as long as some cell passed.
  const said = (c: BisectCell) => (c.reason !== undefined ? `: ${c.reason.replace(/\s*\n\s*/g, ' ')}` : '');
  const errored = cells.filter((c) => c.verdict === 'error');
  if (errored.length > 0) {
    return { code: EXIT_SKIP, reason: `cannot test this commit: ${errored.map((c) => `${c.id} error${said(c)}`).join('; ')}` };
  }
  const skipped = cells.filter((c) => c.verdict === 'skip' && isSought(c, signatures, sought));
  if (skipped.length > 0) {
    return { code: EXIT_SKIP, reason: `cannot test this commit, a sought scenario skipped: ${skipped.map((c) => `${c.id} skip${said(c)}`).join('; ')}` };
  }
  const passed = cells.filter((c) => c.verdict === 'pass');
  if (passed.length === 0) return { code: EXIT_SKIP, reason: `cannot test this commit: all ${cells.length} cell(s) skipped` };
  return { code: EXIT_GOOD, reason: `good: ${passed.length} cell(s) pass${passed.length < cells.length ? `, ${cells.length - passed.length} skipped` : ''}` };
}
