import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needs, testRequirement } from '../test/requirements.ts';
import { loadAllDetails } from '../reports/details.ts';
import { OOPS_LINE, writeFakeRun } from '../reports/fake-run.ts';
import { CELL_PIXELS, gridCells, inspectReport } from '../reports/report-check.ts';
import type { RunResults } from '../results.ts';
import { buildHtml, HtmlReporter } from './html.ts';


describe('report.html', () => {
  let dir: string, run: RunResults, html: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ih-html-'));
    run = await writeFakeRun(dir);
    html = buildHtml(run.summary, await loadAllDetails(run.dir, run.summary.cells));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('is self-contained: no external script, style, image or font', () => {
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/<link /);
    expect(html).not.toMatch(/<img /);
    expect(html).not.toMatch(/url\(/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it('has a grid cell per cell, each linking to its details', () => {
    const cells = gridCells(html);
    expect(cells.map((c) => [c.cell, c.verdict]).sort()).toEqual(run.summary.cells.map((c) => [c.id, c.verdict]).sort());
    for (const c of cells) expect(html).toContain(`<section class="detail" id="${c.href}" data-cell="${c.cell}">`);
  });

  it('escapes what the kernel printed and marks the oops line', () => {
    expect(html).toContain('Call Trace: &lt;escape \x1b[0m &amp; &quot;quotes&quot;&gt;');
    expect(html).toContain(`[    9.300000] <mark>${OOPS_LINE}</mark>`);
    expect(html).not.toContain('<escape');
  });

  it("shows the model's disagreements and the steps of a failing cell", () => {
    const section = html.slice(html.search(/<section class="detail" id="[^"]+" data-cell="6.1.0-56-amd64\/integrity\/002-fail">/));
    const end = section.indexOf('</section>');
    const fail = section.slice(0, end);
    expect(fail).toContain('<td>5</td><td>silent-acceptance</td><td>700</td><td>700</td><td>EILSEQ</td><td>read succeeded</td>');
    expect(fail).toContain('$ integritysetup format --batch-mode /dev/vda');
    expect(fail).toContain('read: Invalid or incomplete multibyte or wide character');
  });

  it('in headless Chromium: the grid shows every verdict in its colour, and a crash cell opens its oops', async () => {
    await needs(testRequirement('chromium'));
    await new HtmlReporter().onEnd(run.summary, run.dir);
    const seen = await inspectReport(run.dir, { cellId: '6.1.0-56-amd64/integrity/003-crash' }, join(dir, 'shot.png'));
    expect(seen.cells).toHaveLength(7);
    expect(seen.opened).toMatch(/^cell-\d+$/);
    expect(seen.detailOf).toBe('6.1.0-56-amd64/integrity/003-crash');
    expect(seen.current).toEqual([seen.opened]);
    for (const v of ['pass', 'fail', 'crash', 'hang', 'error', 'skip']) expect(seen.pixels[v], v).toBeGreaterThan(CELL_PIXELS);
    const written = await readFile(join(run.dir, 'report.html'), 'utf8');
    expect(written).toContain('Console around the first oops');
  }, 120_000);
});
