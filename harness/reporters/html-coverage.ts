// report.html's coverage section (--coverage runs): per file, per scenario (and which add nothing the others do
// not reach), per function the scenarios entering it; genhtml's line view is linked, not inlined.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { shortName } from '../coverage/format.ts';
import type { FunctionsFile } from '../coverage/run.ts';
import type { CoverageRatio, CoverageRecord, Summary } from '../results.ts';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const pct = (r: CoverageRatio) => `${r.pct === null ? '-' : `${r.pct.toFixed(1)}%`} <span class="muted">${r.hit}/${r.found}</span>`;

/** coverage/functions.json of the run, when it has one. */
export async function loadFunctions(runDir: string, s: Summary): Promise<FunctionsFile | undefined> {
  if (s.coverage?.functions === undefined) return undefined;
  return JSON.parse(await readFile(join(runDir, s.coverage.functions), 'utf8').catch(() => '{"kernels":[]}')) as FunctionsFile;
}

function filesTable(k: CoverageRecord['kernels'][number]): string {
  const rows = k.files.map((f) => `<tr><td><code>${esc(shortName(f.file))}</code></td><td>${pct(f.lines)}</td><td>${pct(f.functions)}</td><td>${pct(f.branches)}</td></tr>`).join('');
  return `<table><thead><tr><th>file</th><th>lines</th><th>functions</th><th>branches</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function scenariosTable(k: CoverageRecord['kernels'][number]): string {
  const rows = k.scenarios.map((s) => s.missing !== undefined
    ? `<tr><td>${esc(s.scenario)}</td><td colspan="4" class="muted">no coverage: ${esc(s.missing)}</td></tr>`
    : `<tr${s.uniqueLines === 0 ? ' style="background:#fff8e1"' : ''}><td>${esc(s.scenario)}</td><td>${s.lines}</td><td>${s.functions}</td><td>${s.uniqueLines}</td><td>${s.uniqueFunctions}${s.uniqueLines === 0 ? ' <b>no line of its own: a candidate to drop or merge</b> <span class="muted">(by coverage alone; what it judges may still be its own)</span>' : ''}</td></tr>`).join('');
  return `<table><thead><tr><th>scenario</th><th>lines reached</th><th>functions entered</th><th>lines no other scenario reaches</th><th>functions no other scenario enters</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function functionsTable(fns: FunctionsFile['kernels'][number] | undefined): string {
  if (fns === undefined) return '';
  const byFile = new Map<string, FunctionsFile['kernels'][number]['functions']>();
  for (const f of fns.functions) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  return [...byFile].map(([file, list]) => {
    const reached = list.filter((f) => f.scenarios.length > 0).length;
    const rows = list.map((f) => `<tr${f.scenarios.length === 0 ? ' class="muted"' : ''}><td><code>${esc(f.name)}</code></td><td>${f.line}</td><td>${f.scenarios.length}</td><td>${f.scenarios.length === 0 ? 'no scenario' : esc(f.scenarios.join(', '))}</td></tr>`).join('');
    return `<details><summary><code>${esc(shortName(file))}</code>: ${reached} of ${list.length} functions entered</summary><table><thead><tr><th>function</th><th>line</th><th>scenarios</th><th>which</th></tr></thead><tbody>${rows}</tbody></table></details>`;
  }).join('\n');
}

export function coverageSection(s: Summary, functions: FunctionsFile | undefined): string {
  const c = s.coverage;
  if (c === undefined) return '';
  const links = [c.html !== undefined ? `<a href="${esc(c.html)}">line view (genhtml)</a>` : '', c.lcov !== undefined ? `<a href="${esc(c.lcov)}">lcov.info</a>` : '']
    .filter((x) => x !== '').join(' &middot; ');
  const errors = (c.errors ?? []).map((e) => `<li>${esc(e)}</li>`).join('');
  const kernels = c.kernels.map((k) => `<h3>${esc(k.kernel)}</h3>${filesTable(k)}
<h4>Scenarios</h4>${scenariosTable(k)}
<h4>Functions and the scenarios that enter them</h4>${functionsTable(functions?.kernels.find((f) => f.kernel === k.kernel))}`).join('\n');
  return `<h2>Coverage</h2><p class="meta">${links}</p>${errors !== '' ? `<ul>${errors}</ul>` : ''}\n${kernels}`;
}
