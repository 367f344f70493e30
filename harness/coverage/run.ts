// The end of a --coverage run: each scenario's counters into a tracefile, the run's merged tracefile and
// genhtml's line view under <run>/coverage/, and what summary.json and report.html say about them.
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { CellRecord, CoverageRecord, KernelRecord, Summary } from '../results.ts';
import { captureCell, CELL_TRACEFILE, mergeTracefiles, renderHtml } from './capture.ts';
import { CELL_COVERAGE_DIR } from './guest.ts';
import { enteredFunctions, executedLines, fileRatios, parseTracefile, type Tracefile } from './tracefile.ts';

export const COVERAGE_DIR = 'coverage';
export const FUNCTIONS_FILE = join(COVERAGE_DIR, 'functions.json');

/** coverage/functions.json: per kernel, every function of the profiled files and the scenarios entering it. */
export interface FunctionsFile {
  kernels: Array<{ kernel: string; functions: Array<{ file: string; name: string; line: number; scenarios: string[] }> }>;
}

function fileName(scenario: string): string {
  return `${scenario.replace(/[^A-Za-z0-9._-]+/g, '_')}.info`;
}

interface Captured {
  scenario: string;
  info: string;
  trace: Tracefile;
}

async function captureKernel(runDir: string, k: KernelRecord & { coverage: NonNullable<KernelRecord['coverage']> }, cells: CellRecord[], errors: string[]) {
  const label = k.label ?? k.spec;
  const limit = pLimit(availableParallelism());
  await mkdir(join(runDir, COVERAGE_DIR, label), { recursive: true });
  // one geninfo per cell, as many at once as there are cores; the results keep the cells' order
  const outcomes = await Promise.all(cells.map((cell) => limit(async (): Promise<Captured | { scenario: string; missing: string }> => {
    if (cell.dir === '') return { scenario: cell.scenario, missing: `not run (${cell.verdict})` };
    const cellDir = join(runDir, cell.dir);
    try {
      // a run being merged (npm run merge) captured its cells already, maybe on another machine
      const done = join(cellDir, CELL_TRACEFILE);
      const info = (await stat(done).catch(() => null)) ? done : await captureCell(cellDir, k.coverage, cell.scenario);
      if (info === undefined) {
        const why = await readFile(join(cellDir, CELL_COVERAGE_DIR, 'error.txt'), 'utf8').catch(() => '');
        return { scenario: cell.scenario, missing: why.trim() || `no counters read (${cell.verdict})` };
      }
      const rel = join(COVERAGE_DIR, label, fileName(cell.scenario));
      await copyFile(info, join(runDir, rel));
      return { scenario: cell.scenario, info: rel, trace: parseTracefile(await readFile(info, 'utf8')) };
    } catch (e) {
      errors.push(`${cell.id}: ${(e as Error).message}`);
      return { scenario: cell.scenario, missing: (e as Error).message };
    }
  })));
  const captured = outcomes.filter((o): o is Captured => 'trace' in o);
  const scenarios = outcomes.filter((o): o is { scenario: string; missing: string } => 'missing' in o);
  return { label, captured, scenarios };
}

/** Whether gcov's source file is the .c of one of the profiled objects (drivers/md/dm-integrity.o: .../drivers/md/dm-integrity.c). */
export function isProfiledSource(file: string, objects: readonly string[]): boolean {
  return objects.some((o) => file.endsWith(`/${o.replace(/\.o$/, '.c')}`));
}

// What each scenario reaches that no other scenario of the kernel does: none means the others cover it.
function uniqueCounts(captured: readonly Captured[]): Map<string, { lines: number; functions: number; uniqueLines: number; uniqueFunctions: number }> {
  const lines = captured.map((c) => executedLines(c.trace));
  const fns = captured.map((c) => enteredFunctions(c.trace));
  const countIn = (sets: Array<Set<string>>) => {
    const n = new Map<string, number>();
    for (const s of sets) for (const x of s) n.set(x, (n.get(x) ?? 0) + 1);
    return n;
  };
  const lineN = countIn(lines);
  const fnN = countIn(fns);
  return new Map(captured.map((c, i) => [c.scenario, {
    lines: lines[i]!.size,
    functions: fns[i]!.size,
    uniqueLines: [...lines[i]!].filter((x) => lineN.get(x) === 1).length,
    uniqueFunctions: [...fns[i]!].filter((x) => fnN.get(x) === 1).length,
  }]));
}

function functionsOf(label: string, captured: readonly Captured[], merged: Tracefile): FunctionsFile['kernels'][number] {
  const functions: FunctionsFile['kernels'][number]['functions'] = [];
  for (const [file, f] of merged) {
    for (const [name, { line }] of f.functions) {
      const scenarios = captured.filter((c) => (c.trace.get(file)?.functions.get(name)?.count ?? 0) > 0).map((c) => c.scenario);
      functions.push({ file, name, line, scenarios });
    }
  }
  functions.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  return { kernel: label, functions };
}

/**
 * Captures every cell of every --coverage kernel, merges and renders them; returns the summary's record
 * (undefined when no kernel was built with --coverage). lcov's failures are recorded, never thrown: the
 * verdicts stand without coverage.
 */
export async function summarizeCoverage(summary: Summary, runDir: string): Promise<CoverageRecord | undefined> {
  const kernels = summary.kernels.filter((k): k is KernelRecord & { coverage: NonNullable<KernelRecord['coverage']> } => k.coverage !== undefined);
  if (kernels.length === 0) return undefined;
  const errors: string[] = [];
  const record: CoverageRecord = { kernels: [] };
  const functionsFile: FunctionsFile = { kernels: [] };
  const allInfos: string[] = [];
  for (const k of kernels) {
    const { label, captured, scenarios } = await captureKernel(runDir, k, summary.cells.filter((c) => c.kernelSpec === k.spec), errors);
    allInfos.push(...captured.map((c) => join(runDir, c.info)));
    const merged: Tracefile = new Map();
    for (const c of captured) {
      for (const [file, f] of c.trace) {
        const m = merged.get(file) ?? { lines: new Map(), functions: new Map(), branches: new Map() };
        for (const [ln, n] of f.lines) m.lines.set(ln, (m.lines.get(ln) ?? 0) + n);
        for (const [name, x] of f.functions) m.functions.set(name, { line: x.line, count: (m.functions.get(name)?.count ?? 0) + x.count });
        for (const [b, n] of f.branches) m.branches.set(b, (m.branches.get(b) ?? 0) + n);
        merged.set(file, m);
      }
    }
    // the profiled objects' own sources; inline functions of headers stay in lcov.info and the line view
    const own = new Map([...merged].filter(([file]) => isProfiledSource(file, k.coverage.objects)));
    const unique = uniqueCounts(captured.map((c) => ({ ...c, trace: new Map([...c.trace].filter(([file]) => own.has(file))) })));
    record.kernels.push({
      kernel: label,
      spec: k.spec,
      files: [...own].map(([file, f]) => ({ file, ...fileRatios(f) })).sort((a, b) => a.file.localeCompare(b.file)),
      scenarios: [...captured.map((c) => ({ scenario: c.scenario, info: c.info, ...unique.get(c.scenario)! })), ...scenarios],
    });
    functionsFile.kernels.push(functionsOf(label, captured, own));
  }
  await mkdir(join(runDir, COVERAGE_DIR), { recursive: true });
  await writeFile(join(runDir, FUNCTIONS_FILE), `${JSON.stringify(functionsFile)}\n`);
  record.functions = FUNCTIONS_FILE;
  if (allInfos.length > 0) {
    try {
      await mergeTracefiles(allInfos, join(runDir, COVERAGE_DIR, 'lcov.info'));
      record.lcov = join(COVERAGE_DIR, 'lcov.info');
      await renderHtml(join(runDir, record.lcov), join(runDir, COVERAGE_DIR, 'html'), `integrity-harness ${summary.runId}`);
      record.html = join(COVERAGE_DIR, 'html', 'index.html');
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length > 0) record.errors = errors;
  return record;
}
