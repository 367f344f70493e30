/**
 * One real matrix run (Debian 6.1 boots in QEMU; 4.13 is a kernel.org tarball, so its cell is skip), then
 * every report of that same run is read back by something other than the code that wrote it: the JSON
 * Schema, Python's XML parser, the kernel's own KTAP parser, and headless Chromium.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeForSummary } from '../verdict/exit-code.ts';
import { needs, testRequirement } from '../test/requirements.ts';
import { kunitParserDir, parseWithKunit } from '../reports/kunit.ts';
import { CELL_PIXELS, inspectReport } from '../reports/report-check.ts';
import type { Summary } from '../results.ts';
import { loadSchema, validate } from '../schema/validate.ts';

const JUNIT = `
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
print(json.dumps([[tc.get("classname"), tc.get("name"), [k.tag for k in tc if k.tag in ("failure", "error", "skipped")], [k.get("message") for k in tc if k.tag == "skipped"]] for tc in root.iter("testcase")]))
`;

describe('reports of one real matrix run (--kernel 6.1 --kernel 4.13)', () => {
  let root: string, runDir: string, s: Summary, exitCode: number | undefined, stdout: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ih-reports-guest-'));
    const r = await execa('npx', ['tsx', 'harness/cli/matrix.ts', '--kernel', '6.1', '--kernel', '4.13', '--scenario', 'integrity/001-*', '--jobs', '1', '--results', root], {
      reject: false, timeout: 290_000,
      // 4.13 downloads from mirrors that refuse at once (nothing listens on 127.0.0.1:9), as offline.
      env: { IH_MIRROR_KERNEL_ORG: 'http://127.0.0.1:9/pub/linux/kernel', IH_MIRROR_UBUNTU_MAINLINE: 'http://127.0.0.1:9/mainline', IH_MIRROR_DEBIAN_SNAPSHOT: 'http://127.0.0.1:9/archive/debian' },
    });
    exitCode = r.exitCode;
    stdout = r.stdout;
    if (!/^integrity-harness: .* -> (\S+)$/m.test(r.stdout)) throw new Error(`matrix did not start a run (exit ${r.exitCode}):\n${r.stderr}`);
    runDir = /^integrity-harness: .* -> (\S+)$/m.exec(r.stdout)![1]!;
    s = JSON.parse(await readFile(join(runDir, 'summary.json'), 'utf8')) as Summary;
  }, 300_000);
  afterAll(async () => { if (root) await rm(root, { recursive: true, force: true }); });

  it('booted 6.1 and judged it, skipped 4.13 saying how to provide it, and exited by the verdicts', () => {
    const k61 = s.cells.find((c) => c.kernelSpec === '6.1')!;
    const k413 = s.cells.find((c) => c.kernelSpec === '4.13')!;
    expect(k61.bootMs, 'the 6.1 guest never reached its agent').toBeGreaterThan(0);
    expect(['pass', 'fail', 'crash']).toContain(k61.verdict);
    expect(k413.verdict).toBe('skip');
    // the cell says why in one line; the how-to is the kernel's, once
    expect(k413.reason).toBe('kernel 4.13 could not be downloaded (how-to: summary.json kernels[].message)');
    expect(s.kernels.find((k) => k.spec === '4.13')!.message).toContain('--kernel tree:/path/to/linux-4.13.16');
    expect(stdout.match(/--kernel tree:\/path\/to\/linux-4\.13\.16/g)).toHaveLength(1);
    expect(s.status).toBe('complete');
    expect(exitCode).toBe(exitCodeForSummary(s));
    expect(s.exitCode).toBe(exitCode);
    expect(stdout).toContain(`${k61.verdict.toUpperCase()}`);
  });

  it('summary.json follows harness/schema/summary.schema.json', () => {
    expect(validate(loadSchema('summary'), s)).toEqual([]);
  });

  it('junit.xml parses and holds one testcase per cell with its outcome', async () => {
    const r = await execa('python3', ['-c', JUNIT, join(runDir, 'junit.xml')]);
    const cases = JSON.parse(r.stdout) as Array<[string, string, string[], string[]]>;
    expect(cases).toHaveLength(2);
    const k61 = s.cells.find((c) => c.kernelSpec === '6.1')!;
    const tc61 = cases.find((c) => c[0] === k61.kernel)!;
    expect(tc61[1]).toBe('integrity/001-crc32c-journal-corrupt');
    expect(tc61[2]).toEqual(k61.verdict === 'pass' ? [] : ['failure']);
    const tc413 = cases.find((c) => c[0] === '4.13')!;
    expect(tc413[2]).toEqual(['skipped']);
    expect(tc413[3][0]).toContain('kernel 4.13 could not be downloaded');
  });

  it("ktap.txt is read by the kernel's KTAP parser with the same outcomes", async () => {
    await needs(testRequirement('linux-source-6.1'));
    await needs(testRequirement('python3'));
    const parser = await kunitParserDir();
    const r = await parseWithKunit(parser!, join(runDir, 'ktap.txt'));
    expect(r.errors).toBe(0);
    const k61 = s.cells.find((c) => c.kernelSpec === '6.1')!;
    expect(Object.fromEntries(r.tests)).toEqual({
      [k61.id]: k61.verdict === 'pass' ? 'SUCCESS' : 'FAILURE',
      '4.13/integrity/001-crc32c-journal-corrupt': 'SKIPPED',
    });
  }, 180_000);

  it('report.html in headless Chromium: a 1 x 2 grid in verdict colours, and the 6.1 cell opens its steps and console', async () => {
    await needs(testRequirement('chromium'));
    const k61 = s.cells.find((c) => c.kernelSpec === '6.1')!;
    const seen = await inspectReport(runDir, { cellId: k61.id }, join(root, 'report.png'));
    expect(seen.cells.map((c) => [c.cell, c.verdict]).sort()).toEqual(s.cells.map((c) => [c.id, c.verdict]).sort());
    expect(seen.detailOf).toBe(k61.id);
    expect(seen.current).toEqual([seen.opened]);
    expect(seen.pixels[k61.verdict]).toBeGreaterThan(CELL_PIXELS);
    expect(seen.pixels.skip).toBeGreaterThan(CELL_PIXELS);
    const html = await readFile(join(runDir, 'report.html'), 'utf8');
    const detail = html.slice(html.indexOf(`<section class="detail" id="${seen.opened}"`));
    expect(detail).toContain('$ integritysetup format --batch-mode');
    expect(detail).toMatch(/Console (around the first oops|\(last lines\))/);
  }, 120_000);
});
