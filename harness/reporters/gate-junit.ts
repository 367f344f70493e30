import { formatDisagreement, type CellDetails } from '../reports/details.ts';
import type { CellRecord, Summary } from '../results.ts';

/**
 * JUnit of a gate run (npm run gate): what CI reads is the comparison, so one <testsuite name="gate"> with one
 * <testcase> per scenario carrying both verdicts (properties base.verdict, candidate.verdict, change), a
 * <failure type="regression"> when base passed and the candidate did not, <error> when it could not be judged;
 * and one <testcase> per compatibility cell (writer→reader), a <failure> when the reader disagreed with the model.
 * Cells that fail on both kernels are not the candidate's doing: they pass here, with both verdicts shown.
 */
export function buildGateJunit(summary: Summary, details: Map<CellRecord, CellDetails>, xmlText: (s: string) => string): string {
  const g = summary.gate!;
  const secs = (ms: number) => (ms / 1000).toFixed(3);
  const cand = summary.cells.filter((c) => c.gate?.role === 'candidate');
  const base = new Map(summary.cells.filter((c) => c.gate?.role === 'base').map((c) => [c.scenario, c]));
  const compat = summary.cells.filter((c) => c.gate?.role === 'compat');
  const order = (a: CellRecord, b: CellRecord) => rank(a) - rank(b) || a.scenario.localeCompare(b.scenario) || a.kernel.localeCompare(b.kernel);
  const cases = [...cand].sort(order).map((c) => {
    const b = base.get(c.scenario);
    const props: Array<[string, string]> = [
      ['base.verdict', b?.verdict ?? 'none'], ['candidate.verdict', c.verdict], ['change', c.gate?.change ?? 'new'],
      ['base.kernel', g.base.label ?? g.base.spec], ['candidate.kernel', g.candidate.label ?? g.candidate.spec],
      ...(c.signature !== undefined ? [['candidate.signature', c.signature] as [string, string]] : []),
      ...(b?.signature !== undefined ? [['base.signature', b.signature] as [string, string]] : []),
      ...(c.dir !== '' ? [['candidate.dir', c.dir] as [string, string]] : []),
      ...(b !== undefined && b.dir !== '' ? [['base.dir', b.dir] as [string, string]] : []),
    ];
    return testcase('gate', c.scenario, (b?.durationMs ?? 0) + c.durationMs, props, body(c, details.get(c), `base ${b?.verdict ?? 'none'}, candidate ${c.verdict}`));
  });
  const compatCases = [...compat].sort(order).map((c) => testcase('gate.compat', `${c.scenario} (${c.kernel})`, c.durationMs, [
    ['writer', c.gate?.writer ?? ''], ['reader', c.gate?.reader ?? ''], ['verdict', c.verdict], ['change', c.gate?.change ?? 'same'],
    ...(c.signature !== undefined ? [['signature', c.signature] as [string, string]] : []),
    ...(c.dir !== '' ? [['dir', c.dir] as [string, string]] : []),
  ], body(c, details.get(c), c.verdict)));
  const all = [...cand, ...compat];
  const failures = all.filter((c) => c.gate?.change === 'regression').length;
  const errors = all.filter((c) => c.gate?.change === 'unjudged').length;
  const time = secs(summary.cells.reduce((t, c) => t + c.durationMs, 0));
  const attrs = `tests="${all.length}" failures="${failures}" errors="${errors}" skipped="0" time="${time}"`;
  const name = `gate: base ${g.base.label ?? g.base.spec} vs candidate ${g.candidate.label ?? g.candidate.spec}`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="integrity-harness ${xmlText(summary.runId)}" ${attrs}>\n`
    + `  <testsuite name="${xmlText(name)}" ${attrs} timestamp="${summary.startedAt}" hostname="${xmlText(summary.host.hostname)}">\n`
    + [...cases, ...compatCases].join('')
    + '  </testsuite>\n</testsuites>\n';

  function rank(c: CellRecord): number {
    return c.gate?.change === 'regression' ? 0 : c.gate?.change === 'unjudged' ? 1 : 2;
  }

  function testcase(classname: string, name: string, ms: number, props: Array<[string, string]>, inner: string): string {
    const p = props.map(([k, v]) => `        <property name="${xmlText(k)}" value="${xmlText(v)}"/>`).join('\n');
    return `    <testcase classname="${xmlText(classname)}" name="${xmlText(name)}" time="${secs(ms)}">\n      <properties>\n${p}\n      </properties>\n${inner}    </testcase>\n`;
  }

  function body(c: CellRecord, d: CellDetails | undefined, verdicts: string): string {
    const change = c.gate?.change;
    if (change !== 'regression' && change !== 'unjudged') return '';
    const parts = [`${verdicts}: ${c.reason}`];
    if (c.signature !== undefined) parts.push(`signature: ${c.signature}`);
    if (d !== undefined && d.disagreements.length > 0) parts.push('model disagreements:', ...d.disagreements.map((x) => `  ${formatDisagreement(x)}`));
    if (d?.console !== undefined) parts.push(d.console.kind === 'oops' ? 'console around the first oops:' : 'console (last lines):', d.console.text);
    const msg = xmlText(`${verdicts}: ${c.reason.split('\n')[0]!}`.slice(0, 500));
    return change === 'regression'
      ? `      <failure type="regression" message="${msg}">${xmlText(parts.join('\n'))}</failure>\n`
      : `      <error type="unjudged" message="${msg}">${xmlText(parts.join('\n'))}</error>\n`;
  }
}
