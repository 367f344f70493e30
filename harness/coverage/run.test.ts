// summarizeCoverage over a run whose cells hold tracefiles already (as a merged run's do): the summary's
// per-file and per-scenario numbers, functions.json, and lcov's merge and line view over real sources.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyCounts, type CellRecord, type Summary } from '../results.ts';
import { coverageSection } from '../reporters/html-coverage.ts';
import { coverageLines } from './format.ts';
import { loadSchema, validate } from '../schema/validate.ts';
import { summarizeCoverage, type FunctionsFile } from './run.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-covrun-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const src = join(root, 'linux/drivers/md/dm-x.c');
mkdirSync(join(root, 'linux/drivers/md'), { recursive: true });
const header = join(root, 'linux/include/linux/h.h');
mkdirSync(join(root, 'linux/include/linux'), { recursive: true });
writeFileSync(header, 'static inline int h(void) { return 0; }\n');
writeFileSync(src, 'int a(void)\n{ return 1; }\nint b(void)\n{ return 2; }\nint c(void)\n{ return 3; }\n');

function info(test: string, a: number, b: number): string {
  // an inline function of a header is in the tracefile too, and out of the summary's files
  return `TN:${test}\nSF:${header}\nFN:1,h\nFNDA:1,h\nDA:1,1\nend_of_record\nSF:${src}\nFN:1,a\nFN:3,b\nFN:5,c\nFNDA:${a},a\nFNDA:${b},b\nFNDA:0,c\nFNF:3\nFNH:${(a > 0 ? 1 : 0) + (b > 0 ? 1 : 0)}\n` +
    `DA:2,${a}\nDA:4,${b}\nDA:6,0\nLF:3\nLH:${(a > 0 ? 1 : 0) + (b > 0 ? 1 : 0)}\nend_of_record\n`;
}

function cell(scenario: string, dir: string): CellRecord {
  return { id: `k/${scenario}`, kernel: 'k', kernelSpec: 'src:6.1 --coverage', scenario, verdict: 'pass', reason: '', durationMs: 1, dir };
}

describe('summarizeCoverage', () => {
  it('numbers per file and scenario, what each adds, and the files of the run', async () => {
    const run = join(root, 'run');
    for (const [dir, text] of [['cells/one', info('one', 2, 0)], ['cells/two', info('two', 1, 1)]] as const) {
      mkdirSync(join(run, dir, 'coverage'), { recursive: true });
      writeFileSync(join(run, dir, 'coverage/scenario.info'), text);
    }
    const s: Summary = {
      schemaVersion: 1, runId: 'r', status: 'complete', startedAt: new Date().toISOString(), command: [],
      host: { hostname: 'h', cpus: 1, memoryBytes: 1 }, counts: emptyCounts(),
      kernels: [{ spec: 'src:6.1 --coverage', label: 'k', status: 'ok', coverage: { objects: ['drivers/md/dm-x.o'], buildDir: '/none', notesDir: '/none' } }],
      cells: [cell('g/one', 'cells/one'), cell('g/two', 'cells/two'), cell('g/three', '')],
    };
    const rec = (await summarizeCoverage(s, run))!;
    expect(rec.errors).toBeUndefined();
    const k = rec.kernels[0]!;
    expect(k.files).toEqual([{ file: src, lines: { hit: 2, found: 3, pct: 66.7 }, functions: { hit: 2, found: 3, pct: 66.7 }, branches: { hit: 0, found: 0, pct: null } }]);
    expect(k.scenarios).toEqual([
      { scenario: 'g/one', info: 'coverage/k/g_one.info', lines: 1, functions: 1, uniqueLines: 0, uniqueFunctions: 0 },
      { scenario: 'g/two', info: 'coverage/k/g_two.info', lines: 2, functions: 2, uniqueLines: 1, uniqueFunctions: 1 },
      { scenario: 'g/three', missing: 'not run (pass)' },
    ]);
    const fns = JSON.parse(readFileSync(join(run, rec.functions!), 'utf8')) as FunctionsFile;
    expect(fns.kernels[0]!.functions.map((f) => [f.name, f.scenarios])).toEqual([['a', ['g/one', 'g/two']], ['b', ['g/two']], ['c', []]]);
    expect(readFileSync(join(run, rec.lcov!), 'utf8')).toContain('TN:one');
    expect(readFileSync(join(run, rec.lcov!), 'utf8')).toContain(`SF:${header}`);
    expect(existsSync(join(run, rec.html!))).toBe(true);

    expect(validate(loadSchema('summary'), { ...s, coverage: rec })).toEqual([]);

    const lines = coverageLines(rec).join('\n');
    expect(lines).toContain('66.7% (2/3)');
    expect(lines).toContain('scenarios that reach no line the others do not: g/one');
    const html = coverageSection({ ...s, coverage: rec }, fns);
    expect(html).toContain('no line of its own: a candidate to drop or merge');
    expect(html).toContain('2 of 3 functions entered');
  });
});
