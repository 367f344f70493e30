/** The parts of the mail report, each a list of lines (already at most 80 columns). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BisectReport } from '../../bisect/record.ts';
import type { CellRecord, KernelRecord, Summary } from '../../results.ts';
import type { CellFinding } from '../cell-finding.ts';
import { kernelArgs, shellWord, splitKernelSpec } from '../kernel-inputs.ts';
import { block, fold, indented, wrap } from './wrap.ts';

/** Mail is ASCII here: the gate's direction arrow and any other non-ASCII become plain text. */
export const ascii = (s: string) => s.replaceAll('→', '->').replace(/[^\x20-\x7e\n]/g, '?');

/** "  name:          value", the value wrapped in its column. */
function field(name: string, value: string): string[] {
  const column = 17;
  return wrap(ascii(value), 80 - column).map((l, i) => (i === 0 ? `  ${`${name}:`.padEnd(column - 2)}${l}` : `${' '.repeat(column)}${l}`));
}

function patchLines(k: KernelRecord): string[] {
  const list = k.patches !== undefined && k.patches.length > 0 ? k.patches : splitKernelSpec(k.spec).patches;
  return list.length > 0 ? field('patches', list.join(' ')) : [];
}

export function kernelSection(title: string, k: KernelRecord): string[] {
  return [
    `${title}:`,
    ...field('spec', k.spec),
    ...(k.release !== undefined ? field('release', k.release) : []),
    ...(k.source !== undefined ? field('source', k.source) : []),
    // the copies kept in the run when it has them, else the --patch paths as given
    ...patchLines(k),
    ...(k.config !== undefined ? field('kernel config', k.config) : []),
    ...(k.buildLog !== undefined ? field('build log', k.buildLog) : []),
    ...(k.status !== 'ok' ? field('status', `${k.status}: ${(k.message ?? '').split('\n')[0]}`) : []),
  ];
}

export function countsLine(s: Summary): string {
  const parts = (['crash', 'hang', 'fail', 'error', 'skip', 'pass'] as const).filter((v) => s.counts[v] > 0).map((v) => `${s.counts[v]} ${v}`);
  return `${parts.join(', ') || 'no cells'} (${s.cells.length} cells)`;
}

/** One failing cell: what ran, what the scenario does, what was seen. */
export function cellSection(c: CellRecord, finding: CellFinding, description: string | undefined): string[] {
  const was = c.gate?.role === 'candidate' ? ` (base: ${c.gate.base ?? 'not run'})` : '';
  const intro: Record<CellFinding['kind'], string> = {
    oops: 'The guest kernel crashed (console, trimmed):',
    disagreement: "The reference model's first disagreement with the kernel:",
    'console tail': 'The guest stopped answering; the last console lines:',
    reason: 'Why:',
  };
  return [
    '-'.repeat(72),
    ...wrap(ascii(`${c.scenario} on ${c.kernel}: ${c.verdict}${was}`)),
    ...(description !== undefined ? ['', ...wrap(ascii(description))] : []),
    '',
    intro[finding.kind],
    '',
    ...block(finding.lines.map(ascii), '  '),
  ];
}

export function bisectSection(b: BisectReport): string[] {
  const out = ['Bisection:', ''];
  const counts = ['good', 'bad', 'skip'].map((v) => `${b.steps.filter((s) => s.verdict === v).length} ${v}`).join(', ');
  out.push(...field('tree', b.tree), ...field('good', `${b.good.ref} (${b.good.commit})`), ...field('bad', `${b.bad.ref} (${b.bad.commit})`));
  if (b.firstBad !== undefined) {
    out.push('', 'The first bad commit is:', '', ...block([`commit ${b.firstBad.commit}`, `    ${ascii(b.firstBad.subject)}`], '  '));
  } else if (b.candidates !== undefined && b.candidates.length > 0) {
    out.push('', 'No single first bad commit (some could not be tested); it is one of:', '', ...block(b.candidates.map((c) => `${c.commit.slice(0, 12)} ${ascii(c.subject)}`), '  '));
  } else {
    out.push('', ...wrap(ascii(`Bisection ${b.status}${b.message !== undefined ? `: ${b.message}` : ''}`)));
  }
  out.push('', ...wrap(`Failure looked for: ${ascii(b.signatures.join('; ') || 'any')}.`), ...wrap(`Commits tested: ${b.steps.length} (${counts}); ${b.repeat > 1 ? `each up to ${b.repeat} times; ` : ''}record: bisect.json.`));
  return out;
}

/** The command that reruns one cell with the harness, as a shell line. */
export function rerunCommand(s: Summary, c: CellRecord, bisect?: BisectReport): string {
  if (bisect?.firstBad !== undefined) {
    return ['npm', 'run', 'matrix', '--', '--kernel', `tree:${bisect.tree}@${bisect.firstBad.commit.slice(0, 12)}`, '--scenario', c.scenario].map(shellWord).join(' ');
  }
  if (c.gate?.role === 'compat' && s.gate !== undefined) {
    const args = [...kernelArgs(s.gate.base.spec, '--base'), ...kernelArgs(s.gate.candidate.spec, '--candidate'), '--compat-stack', c.scenario];
    return ['npm', 'run', 'gate', '--', ...args].map(shellWord).join(' ');
  }
  return ['npm', 'run', 'matrix', '--', ...kernelArgs(c.kernelSpec), '--scenario', c.scenario].map(shellWord).join(' ');
}

/** Where a cell's standalone reproducer is, relative to the run directory, when the run has one. */
export function reproScript(runDir: string, c: CellRecord): string | undefined {
  if (c.dir === '') return undefined;
  const folder = c.dir.split('/').slice(0, 2).join('/');
  for (const dir of [c.dir, folder]) {
    const rel = `${dir}/repro/repro.sh`;
    if (existsSync(join(runDir, rel))) return rel;
  }
  return undefined;
}

export function reproduceSection(runDir: string, s: Summary, cells: CellRecord[], bisect?: BisectReport): string[] {
  const out = ['How to reproduce:'];
  for (const c of cells) {
    out.push('', ...wrap(ascii(`${c.scenario} on ${c.kernel}:`), 80, '  '));
    const repro = reproScript(runDir, c);
    if (repro !== undefined) {
      out.push(...indented('As root on a Linux machine with integritysetup, cryptsetup and dmsetup (it makes its own loop devices; exit 1: the bug reproduced, 0: it did not), from the run directory:', '  '));
      out.push(...block([`sh ${shellWord(repro)}`], '    '));
    }
    out.push(...indented('With integrity-harness (boots the same kernel in QEMU):', '  '));
    out.push(...fold(`    ${rerunCommand(s, c, bisect)}`, 80, '      '));
  }
  return out;
}

export function trailerSection(bisect?: BisectReport): string[] {
  const fixes = bisect?.firstBad !== undefined ? `${bisect.firstBad.commit.slice(0, 12)} ("${ascii(bisect.firstBad.subject)}")` : '<12+ hex digits of the commit that introduced it> ("<its subject>")';
  return [
    ...wrap('If you fix the issue, please add these tags to the commit (fill in what is in angle brackets):'),
    '',
    ...fold('Reported-by: <name> <email>'),
    ...fold('Closes: <link to this report>'),
    ...fold(`Fixes: ${fixes}`, 80, ' '),
  ];
}
