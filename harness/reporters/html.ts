import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadAllDetails, type CellDetails } from '../reports/details.ts';
import { kernelColumns, reportOrder } from '../reports/order.ts';
import type { CellRecord, Summary } from '../results.ts';
import { isFailure } from '../verdict/order.ts';
import { SCRIPT, STYLE, VERDICT_COLOURS } from './html-assets.ts';
import type { Reporter } from './reporter.ts';
import type { FunctionsFile } from '../coverage/run.ts';
import { coverageSection, loadFunctions } from './html-coverage.ts';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const badge = (v: string) => `<span class="badge v-${v}">${v.toUpperCase()}</span>`;

function verdictCss(): string {
  return Object.entries(VERDICT_COLOURS).map(([v, c]) => `.v-${v} { background: ${c.bg}; color: ${c.fg}; }`).join('\n');
}

function header(s: Summary): string {
  // A merged run's wall time would span the gaps between its shards: show the cells' own time instead.
  const took = s.mergedFrom !== undefined ? `, cells ran ${secs(s.cells.reduce((t, c) => t + c.durationMs, 0))} in total`
    : s.endedAt !== undefined ? ` in ${secs(Date.parse(s.endedAt) - Date.parse(s.startedAt))}` : '';
  const counts = Object.entries(s.counts).filter(([, n]) => n > 0).map(([v, n]) => `<span class="v-${v}">${n} ${v}</span>`).join('');
  const flaky = s.cells.filter((c) => c.flaky).length;
  const shard = s.plan?.shard !== undefined ? `, shard ${s.plan.shard.index}/${s.plan.shard.total}` : '';
  const merged = s.mergedFrom !== undefined ? `, merged from ${s.mergedFrom.map((m) => esc(m.runId)).join(', ')}` : '';
  const gate = s.gate === undefined ? '' : `<p class="meta">gate: base <b>${esc(s.gate.base.label ?? s.gate.base.spec)}</b> (${esc(s.gate.base.spec)}) vs candidate <b>${esc(s.gate.candidate.label ?? s.gate.candidate.spec)}</b> (${esc(s.gate.candidate.spec)}): ${s.gate.regressions} regression(s), ${s.gate.unjudged} not judged, ${s.gate.fixed} fixed, ${s.gate.compared} compared</p>`;
  return `<h1>integrity-harness ${s.gate !== undefined ? 'gate' : 'run'} ${esc(s.runId)}</h1>${gate}
<p class="meta">${esc(s.status)}${took}, started ${esc(s.startedAt)} on ${esc(s.host.hostname)} (${s.host.cpus} CPUs), accelerator ${esc(s.accelerator?.accel ?? 'n/a')}${shard}${merged}; exit code ${s.exitCode ?? 'n/a'}<br><code>${esc(s.command.join(' '))}</code></p>
<p class="counts">${counts || '<span>no cells</span>'}${flaky > 0 ? `<span class="badge" style="background:#fdd835">${flaky} flaky</span>` : ''}</p>`;
}

function cellList(title: string, cells: CellRecord[], anchor: (c: CellRecord) => string): string {
  if (cells.length === 0) return '';
  return `<h2>${esc(title)} (${cells.length})</h2>\n<ul class="list">${cells.map((c) => `<li>${badge(c.verdict)} <a href="#${anchor(c)}">${esc(c.id)}</a> <span class="muted">${esc(c.reason)}</span></li>`).join('')}</ul>`;
}

function grid(s: Summary, anchor: (c: CellRecord) => string): string {
  const cols = kernelColumns(s);
  const scenarios = [...new Set(s.cells.map((c) => c.scenario))].sort();
  const at = new Map(s.cells.map((c) => [`${c.kernelSpec}\0${c.scenario}`, c]));
  const role = (spec: string) => (s.gate?.base.spec === spec ? 'base: ' : s.gate?.candidate.spec === spec ? 'candidate: ' : '');
  const head = cols.map((k) => `<th>${role(k.spec)}${esc(k.label)}${k.label !== k.spec ? `<small>${s.gate !== undefined ? '' : '--kernel '}${esc(k.spec)}</small>` : ''}</th>`).join('');
  const rows = scenarios.map((sc) => {
    const tds = cols.map((k) => {
      const c = at.get(`${k.spec}\0${sc}`);
      if (c === undefined) return '<td class="none" title="not in this run">&mdash;</td>';
      const regression = c.baseline?.change === 'regression' || c.gate?.change === 'regression';
      const cls = [`v-${c.verdict}`, c.flaky ? 'flaky' : '', regression ? 'regression' : ''].filter(Boolean).join(' ');
      // a compatibility cell sits in its reader's column: say who wrote the disk
      const marks = [c.gate?.role === 'compat' ? `read ${c.gate.writer}'s disk` : '', c.flaky ? 'flaky' : '', regression ? 'regression' : ''].filter(Boolean).join(', ');
      return `<td class="${cls}" data-verdict="${c.verdict}" data-cell="${esc(c.id)}"><a href="#${anchor(c)}" title="${esc(c.reason)}">${c.verdict.toUpperCase()}<small>${c.verdict === 'skip' ? 'not run' : secs(c.durationMs)}${marks ? ` &middot; ${marks}` : ''}</small></a></td>`;
    }).join('');
    return `<tr><th class="scenario">${esc(sc)}</th>${tds}</tr>`;
  }).join('\n');
  if (s.gate !== undefined) return `<h2>Base &times; candidate</h2>\n<p class="meta">Each row runs on both kernels; a regression (passes on base, not on the candidate) is outlined. compat/ rows: the column's kernel read a disk the other kernel wrote.</p>\n<table class="grid"><thead><tr><th>scenario</th>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
  return `<h2>Kernels &times; scenarios</h2>\n<table class="grid"><thead><tr><th>scenario</th>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function steps(d: CellDetails): string {
  if (d.steps.length === 0) return '<p class="muted">No steps recorded.</p>';
  const rows = d.steps.map((st) => {
    const cmds = st.commands.map((c) => `<div${c.exitCode !== 0 ? ' class="bad"' : ''}>$ ${esc(c.argv.join(' '))} <span class="muted">&rarr; ${c.exitCode ?? 'no exit'}, ${c.durationMs} ms</span>${c.stderrTail ? `\n${esc(c.stderrTail)}` : ''}</div>`).join('');
    return `<tr><td>${st.index < 0 ? '' : st.index}</td><td>${esc(st.kind)}</td><td>${st.durationMs} ms</td><td class="cmds">${cmds}${st.note ? `<div class="muted">${esc(st.note)}</div>` : ''}</td></tr>`;
  }).join('\n');
  return `<table class="steps"><thead><tr><th>#</th><th>step</th><th>time</th><th>guest commands</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function disagreements(d: CellDetails): string {
  if (d.disagreements.length === 0) return '<p class="muted">The model agrees with every observation.</p>';
  const rows = d.disagreements.map((x) => `<tr><td>${x.step}</td><td>${esc(x.kind)}</td><td>${x.block ?? ''}</td><td>${x.sector ?? ''}</td><td>${esc(x.expected)}</td><td>${esc(x.found)}</td></tr>`).join('\n');
  return `<table><thead><tr><th>step</th><th>kind</th><th>block</th><th>sector</th><th>model expects</th><th>kernel did</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
}

function consoleBlock(d: CellDetails): string {
  if (d.console === undefined) return '<p class="muted">No console log.</p>';
  let text = esc(d.console.text);
  if (d.console.line !== undefined) text = text.replace(esc(d.console.line), (m) => `<mark>${m}</mark>`);
  return `<h3>${d.console.kind === 'oops' ? 'Console around the first oops' : 'Console (last lines)'}</h3><pre>${text}</pre>`;
}

function detail(c: CellRecord, d: CellDetails, id: string): string {
  const rows: Array<[string, string]> = [['reason', esc(c.reason)]];
  if (c.signature !== undefined) rows.push(['signature', `<code>${esc(c.signature)}</code>`]);
  rows.push(['time', `${secs(c.durationMs)}${c.bootMs !== undefined ? ` (boot to agent ${secs(c.bootMs)})` : ''}`]);
  rows.push(['kernel', `${esc(c.kernelRelease ?? c.kernel)} <span class="muted">(--kernel ${esc(c.kernelSpec)})</span>`]);
  if (c.baseline !== undefined) rows.push(['baseline', `${c.baseline.verdict ?? 'no such cell'} there: <b>${c.baseline.change}</b>`]);
  if (c.gate?.role === 'candidate') rows.push(['gate', `base ${c.gate.base ?? 'no such cell'}, candidate ${c.verdict}: <b>${c.gate.change ?? ''}</b>`]);
  if (c.gate?.role === 'compat') rows.push(['gate', `${c.gate.writer} wrote, ${c.gate.reader} read: <b>${c.gate.change ?? ''}</b>`]);
  if (c.dir !== '') rows.push(['files', ['console.log', 'steps.jsonl', 'result.json'].map((f) => `<a href="${esc(`${c.dir}/${f}`)}">${f}</a>`).join(' ')]);
  if (c.sharedRun !== undefined) {
    const sr = c.sharedRun;
    const fresh = sr.rerun === undefined ? 'not run' : `${badge(sr.rerun.verdict)} <a href="${esc(`${sr.rerun.dir}/console.log`)}">console.log</a>`;
    rows.push(['shared guest', `${badge(sr.verdict)} after ${esc(sr.before.join(', ') || 'nothing')}; first in a fresh guest: ${fresh}`]);
  }
  if (c.guest !== undefined) rows.push(['guest', `${esc(c.guest)}: ${['console.log', 'guest.json'].map((f) => `<a href="${esc(`${c.guest}/${f}`)}">${f}</a>`).join(' ')}`]);
  const runs = c.runs === undefined ? '' : `<h3>Executions</h3><table><thead><tr><th>repetition</th><th>attempt</th><th>verdict</th><th>time</th><th>reason</th></tr></thead><tbody>${c.runs.map((r) => `<tr><td>${r.repeat}</td><td>${r.attempt}</td><td>${badge(r.verdict)}</td><td>${secs(r.durationMs)}</td><td>${esc(r.reason)}</td></tr>`).join('')}</tbody></table>`;
  return `<section class="detail" id="${id}" data-cell="${esc(c.id)}"><a class="close" href="#" title="close (Esc)">&times;</a>
<h2>${badge(c.verdict)}${c.flaky ? ' <span class="badge" style="background:#fdd835">FLAKY</span>' : ''} ${esc(c.id)}</h2>
<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>${runs}
<h3>Model disagreements</h3>${disagreements(d)}
${consoleBlock(d)}
<h3>Steps</h3>${steps(d)}
</section>`;
}

function kernelsTable(s: Summary): string {
  const rows = s.kernels.map((k) => `<tr><td><code>${esc(k.spec)}</code></td><td>${esc(k.label ?? '')}</td><td>${esc(k.status)}</td><td>${esc(k.source ?? k.message ?? '')}</td></tr>`).join('');
  return `<h2>Kernels</h2><table><thead><tr><th>--kernel</th><th>label</th><th>status</th><th>source or message</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** report.html: one self-contained file (inline style, inline script, no external resource). */
export function buildHtml(s: Summary, details: Map<CellRecord, CellDetails>, functions?: FunctionsFile): string {
  const cells = reportOrder(s);
  const ids = new Map(cells.map((c, i) => [c, `cell-${i + 1}`]));
  const anchor = (c: CellRecord) => ids.get(c)!;
  const regressions = s.gate !== undefined
    ? cellList('Regressions: pass on base, not on the candidate (or a compatibility failure)', cells.filter((c) => c.gate?.change === 'regression'), anchor)
      + cellList('Not judged (infrastructure error or skip where base passed)', cells.filter((c) => c.gate?.change === 'unjudged'), anchor)
    : s.baseline !== undefined ? cellList(`Regressions against ${s.baseline.runId}`, cells.filter((c) => c.baseline?.change === 'regression'), anchor) : '';
  const flaky = cellList('Flaky cells (repetitions disagree)', cells.filter((c) => c.flaky), anchor);
  const failing = cellList('Failing cells', cells.filter((c) => !c.flaky && isFailure(c.verdict) && c.baseline?.change !== 'regression' && c.gate?.change !== 'regression'), anchor);
  return `<!DOCTYPE html>
<html lang="en" data-open="">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>integrity-harness ${esc(s.runId)}</title>
<style>${STYLE}
${verdictCss()}</style></head>
<body>
${header(s)}
${regressions}
${grid(s, anchor)}
${flaky}
${failing}
${kernelsTable(s)}
${coverageSection(s, functions)}
${cells.map((c) => detail(c, details.get(c) ?? { steps: [], disagreements: [] }, anchor(c))).join('\n')}
<script>${SCRIPT}</script>
</body></html>
`;
}

export class HtmlReporter implements Reporter {
  async onEnd(summary: Summary, runDir: string): Promise<void> {
    await writeFile(join(runDir, 'report.html'), buildHtml(summary, await loadAllDetails(runDir, summary.cells), await loadFunctions(runDir, summary)));
  }
}
