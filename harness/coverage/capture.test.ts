// capture.ts on a user-space program built like a kernel object (compiled from the build dir with a relative
// source path), its counters moved away from the build dir as a guest's are: lcov's tools must read them back
// against the notes published elsewhere.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preflight, COVERAGE_REQUIREMENTS } from '../preflight.ts';
import { captureCell, mergeTracefiles, renderHtml } from './capture.ts';
import { CELL_GCDA_DIR } from './guest.ts';
import { fileRatios, parseTracefile } from './tracefile.ts';

const SOURCE = `
int called(int x) { if (x > 2) return x * 2; return x; }
int never(int x) { return x + 1; }
int main(void) { return called(1) == 1 ? 0 : 1; }
`;

describe('captureCell', () => {
  let root: string;
  beforeAll(async () => {
    // fails with the apt-get line when lcov is missing and this is not root
    await preflight({ requirements: COVERAGE_REQUIREMENTS });
    root = mkdtempSync(join(tmpdir(), 'ih-cov-'));
    mkdirSync(join(root, 'src/drivers/md'), { recursive: true });
    mkdirSync(join(root, 'src/out/drivers/md'), { recursive: true });
    writeFileSync(join(root, 'src/drivers/md/prog.c'), SOURCE);
    const build = join(root, 'src/out');
    // as kbuild does: the object compiled in the build dir from a source path relative to it
    await execa('gcc', ['-fprofile-arcs', '-ftest-coverage', '-O0', '-c', '-o', 'drivers/md/prog.o', '../drivers/md/prog.c'], { cwd: build });
    await execa('gcc', ['-fprofile-arcs', '-o', 'drivers/md/prog', 'drivers/md/prog.o'], { cwd: build });
    await execa(join(build, 'drivers/md/prog'), [], { cwd: build });
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads moved counters back against published notes: a called function > 0, an uncalled one 0', async () => {
    const build = join(root, 'src/out');
    const notesDir = join(root, 'notes');
    mkdirSync(join(notesDir, 'drivers/md'), { recursive: true });
    const base = 'prog';
    copyFileSync(join(build, `drivers/md/${base}.gcno`), join(notesDir, `drivers/md/${base}.gcno`));
    const cell = join(root, 'cell');
    mkdirSync(join(cell, CELL_GCDA_DIR, 'drivers/md'), { recursive: true });
    renameSync(join(build, `drivers/md/${base}.gcda`), join(cell, CELL_GCDA_DIR, `drivers/md/${base}.gcda`));

    const info = await captureCell(cell, { objects: ['drivers/md/prog.o'], buildDir: build, notesDir }, 'integrity/001-x');
    expect(info).toBeDefined();
    const trace = parseTracefile(readFileSync(info!, 'utf8'));
    const file = [...trace.keys()].find((f) => f.endsWith('drivers/md/prog.c'));
    expect(file).toBe(join(root, 'src/drivers/md/prog.c'));
    const fns = trace.get(file!)!.functions;
    expect(fns.get('called')?.count).toBeGreaterThan(0);
    expect(fns.get('never')?.count).toBe(0);
    const r = fileRatios(trace.get(file!)!);
    expect(r.functions).toMatchObject({ hit: 2, found: 3 });
    expect(r.branches.found).toBeGreaterThan(0);
    expect(r.branches.hit).toBeLessThan(r.branches.found);

    await mergeTracefiles([info!, info!], join(root, 'all.info'));
    const merged = parseTracefile(readFileSync(join(root, 'all.info'), 'utf8'));
    expect(merged.get(file!)!.functions.get('called')!.count).toBe(2 * fns.get('called')!.count);
    await renderHtml(join(root, 'all.info'), join(root, 'html'), 'test');
    const pages = (await readdir(join(root, 'html'), { recursive: true })).map(String);
    expect(pages).toContain('index.html');
    expect(pages.some((p) => p.endsWith('prog.c.gcov.html'))).toBe(true);
  }, 60_000);

  it('a cell without counters has no tracefile', async () => {
    const cell = join(root, 'empty-cell');
    mkdirSync(cell);
    expect(await captureCell(cell, { objects: [], buildDir: '/nonexistent', notesDir: '/nonexistent' }, 'x')).toBeUndefined();
  });
});
