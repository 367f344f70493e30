/**
 * The run as a plain-text mail in the style of the kernel's CI bots (syzbot, KernelCI, the 0-day robot):
 * subject, kernel(s) and patches under test, what failed (the oops trimmed, or the model's first
 * disagreement in words), the bisection when there is one, how to reproduce, and trailer tags to fill in.
 * Every line is at most 80 columns.
 */
import type { CellRecord, KernelRecord, Summary } from '../../results.ts';
import { isFailure, severity } from '../../verdict/order.ts';
import { cellFinding } from '../cell-finding.ts';
import type { ReportInput } from '../input.ts';
import { scenarioDescription } from '../scenario-text.ts';
import { ascii, bisectSection, cellSection, countsLine, kernelSection, reproduceSection, trailerSection } from './sections.ts';
import { fold, header, wrap, WIDTH } from './wrap.ts';

/** Failing cells shown in full; the rest are listed by name. */
const DETAILED = 4;

/** The cells the mail is about: a gate's regressions, a baseline run's regressions, else every fail/crash/hang. */
export function reportedCells(s: Summary): CellRecord[] {
  const judged = s.gate !== undefined ? s.cells.filter((c) => c.gate?.change === 'regression')
    : s.baseline !== undefined ? s.cells.filter((c) => c.baseline?.change === 'regression')
      : s.cells.filter((c) => isFailure(c.verdict));
  return [...judged].sort((a, b) => severity(b.verdict) - severity(a.verdict) || a.id.localeCompare(b.id));
}

function headline(s: Summary, cells: CellRecord[]): string {
  const first = cells[0];
  if (first === undefined) return s.gate !== undefined ? 'gate: no regressions' : `no failures in ${s.cells.length} cells`;
  const what = first.signature?.replace(' @ ', ' in ') ?? `${first.scenario}: ${first.verdict}`;
  const more = cells.length > 1 ? ` (and ${cells.length - 1} more)` : '';
  return `${s.gate !== undefined ? 'gate regression: ' : ''}${what}${more}`;
}

function kernelsOf(s: Summary, cells: CellRecord[]): Array<[string, KernelRecord]> {
  const bySpec = (spec: string) => s.kernels.find((k) => k.spec === spec);
  if (s.gate !== undefined) {
    const out: Array<[string, KernelRecord]> = [];
    const b = bySpec(s.gate.base.spec);
    const c = bySpec(s.gate.candidate.spec);
    if (b !== undefined) out.push(['Base kernel', b]);
    if (c !== undefined) out.push(['Candidate kernel (under test)', c]);
    return out;
  }
  // a kernel none of the reported cells ran on (the unpatched one beside a patched one) was tested too, but is
  // not what the mail is about
  const failing = new Set(cells.map((c) => c.kernelSpec));
  const under = (k: KernelRecord) => failing.size === 0 || failing.has(k.spec);
  return [...s.kernels.filter(under), ...s.kernels.filter((k) => !under(k))].map((k) => [under(k) ? 'Kernel under test' : 'Also tested (no failures)', k]);
}

export async function composeEmail(input: ReportInput): Promise<string> {
  const { run, bisect } = input;
  const out: string[] = [];
  const s = run?.summary;
  const cells = s !== undefined ? reportedCells(s) : [];
  out.push(...header('Subject', `[integrity-harness] ${ascii(s !== undefined ? headline(s, cells) : `bisection ${bisect?.report.status ?? ''}`)}`), '');
  out.push('Hello,', '');
  out.push(...wrap('integrity-harness tested the Linux data-integrity path (dm-integrity, dm-crypt with authenticated encryption, LUKS2 --integrity) in a QEMU guest, judging every read, errno and raw byte against an independent reference model, and found the following.'), '');
  if (s !== undefined && run !== undefined) {
    for (const [title, k] of kernelsOf(s, cells)) out.push(...kernelSection(title, k), '');
    out.push(...wrap(`Run: ${s.runId} (${s.accelerator?.accel ?? 'QEMU'}), ${countsLine(s)}, exit code ${s.exitCode ?? 'none (not finished)'}.`), '');
    if (s.gate !== undefined) {
      out.push(...wrap(`Gate: ${s.gate.regressions} regression(s) (cells that pass on base and fail, crash or hang on the candidate, or disks one kernel wrote that the other cannot read), ${s.gate.unjudged} not judged, ${s.gate.fixed} fixed, ${s.gate.compared} compared.`), '');
    }
    if (cells.length === 0) out.push(...wrap('Nothing failed: every judged cell agrees with the model.'), '');
    for (const c of cells.slice(0, DETAILED)) {
      const finding = await cellFinding(run.dir, c);
      out.push(...cellSection(c, finding, await scenarioDescription(c.scenario)), '');
    }
    if (cells.length > DETAILED) {
      out.push(`${cells.length - DETAILED} more:`, ...cells.slice(DETAILED).flatMap((c) => fold(ascii(`  ${c.scenario} on ${c.kernel}: ${c.verdict} -- ${c.signature ?? c.reason.split('\n')[0]}`), WIDTH, '    ')), '');
    }
    const unjudged = s.cells.filter((c) => c.verdict === 'error' || (c.gate?.change === 'unjudged'));
    if (unjudged.length > 0) {
      out.push(...wrap(`Not judged (${unjudged.length}; the harness or host failed, not the kernel):`));
      out.push(...unjudged.slice(0, 5).flatMap((c) => fold(ascii(`  ${c.scenario} on ${c.kernel}: ${c.verdict} -- ${c.reason.split('\n')[0]}`), WIDTH, '    ')), '');
    }
  }
  if (bisect !== undefined) out.push('-'.repeat(72), ...bisectSection(bisect.report), '');
  if (run !== undefined && s !== undefined && cells.length > 0) out.push('-'.repeat(72), ...reproduceSection(run.dir, s, cells.slice(0, DETAILED), bisect?.report), '');
  if (cells.length > 0 || bisect?.report.firstBad !== undefined) out.push('-'.repeat(72), ...trailerSection(bisect?.report), '');
  out.push('---', ...wrap(`This report was written by integrity-harness (npm run report -- <run> --format email) from ${run !== undefined ? `run ${run.summary.runId}` : `bisection ${bisect?.report.runId}`}; its summary.json, report.html and every cell's console, steps and disagreements are in the run directory. Verdicts: results/README.md.`));
  return `${out.flatMap((l) => (l.length > WIDTH ? fold(l) : [l])).join('\n')}\n`;
}
