/**
 * The import graph's rules (docs/ARCHITECTURE.md): no import cycle anywhere in harness/ or vm/; the layers
 * below the run (vm/, the reference model) never import from harness/run/; the verdict (harness/verdict/)
 * reaches nothing in harness/run/, so it judges what a run recorded, never how it ran; the scenario loader,
 * which reads each stack type's schema from harness/stacks/, reaches nothing in harness/run/; a stack type
 * reaches harness/run/ only through the guest session (harness/run/session/), which imports no stack type.
 * Imports are read with TypeScript's own pre-processor, type-only imports included: a cycle of types still
 * ties the modules' meaning together.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Each module's relative imports (and re-exports), as paths from the repository root. */
function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(join(root, f), 'utf8'), true, false);
    const deps = info.importedFiles.map((i) => i.fileName).filter((n) => n.startsWith('.'))
      .map((n) => relative(root, resolve(root, dirname(f), n)));
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components with more than one module, or a module importing itself (Tarjan). */
export function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Every module `from` reaches through its imports, itself left out unless a cycle leads back to it. */
export function reach(graph: Map<string, string[]>, from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [...(graph.get(from) ?? [])];
  for (let m = todo.pop(); m !== undefined; m = todo.pop()) {
    if (seen.has(m)) continue;
    seen.add(m);
    todo.push(...(graph.get(m) ?? []));
  }
  return seen;
}

/** `from -> to` for each import of a module under `from` (tests left out) into `to` that `allowed` does not allow. */
function importsInto(graph: Map<string, string[]>, from: string, to: string, allowed: (dep: string) => boolean = () => false): string[] {
  return [...graph].filter(([f]) => f.startsWith(from) && !f.endsWith('.test.ts'))
    .flatMap(([f, deps]) => deps.filter((d) => d.startsWith(to) && !allowed(d)).map((d) => `${f} -> ${d}`));
}

describe('import graph', () => {
  const graph = importGraph([...sources('harness'), ...sources('vm')]);

  it('reads every module and its imports', () => {
    expect(graph.get('harness/run/run-cell.ts')).toContain('harness/run/session/cell.ts');
    expect(graph.size).toBeGreaterThan(100);
  });

  it('finds a cycle where there is one', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]);
    expect(cycles(g)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it('has no cycle in harness/ or vm/', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('keeps vm/ and the reference model below harness/run/', () => {
    const upward = [...graph].filter(([f]) => f.startsWith('vm/') || f.startsWith('harness/model/'))
      .flatMap(([f, deps]) => deps.filter((d) => d.startsWith('harness/run/')).map((d) => `${f} -> ${d}`));
    expect(upward).toEqual([]);
  });

  it('keeps the verdict below harness/run/: nothing it reaches is there', () => {
    const verdict = [...graph.keys()].filter((f) => f.startsWith('harness/verdict/') && !f.endsWith('.test.ts'));
    expect(verdict).toContain('harness/verdict/execution.ts');
    const reached = new Set(verdict.flatMap((f) => [f, ...reach(graph, f)]));
    expect([...reached].filter((f) => f.startsWith('harness/run/'))).toEqual([]);
  });

  it('finds what a module reaches through others', () => {
    const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', []], ['d.ts', ['a.ts']]]);
    expect([...reach(g, 'a.ts')].sort()).toEqual(['b.ts', 'c.ts']);
  });

  it('keeps the scenario loader and the stack schemas it reads below harness/run/', () => {
    const loader = [...graph.keys()].filter((f) => f.startsWith('harness/scenario/') && !f.endsWith('.test.ts'));
    expect(loader).toContain('harness/scenario/load.ts');
    const reached = new Set(loader.flatMap((f) => [...reach(graph, f)]));
    expect(reached).toContain('harness/stacks/integrity/integrity-schema.ts');
    expect([...reached].filter((f) => f.startsWith('harness/run/'))).toEqual([]);
  });

  it('lets a stack type reach harness/run/ only through the guest session, which imports no stack type', () => {
    expect(importsInto(graph, 'harness/stacks/', 'harness/run/', (d) => d.startsWith('harness/run/session/'))).toEqual([]);
    expect(importsInto(graph, 'harness/run/session/', 'harness/stacks/')).toEqual([]);
  });
});
