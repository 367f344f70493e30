import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAllDetails } from '../reports/details.ts';
import { OOPS_LINE, writeFakeRun } from '../reports/fake-run.ts';
import type { RunResults } from '../results.ts';
import { buildJunit, xmlText } from './junit.ts';

/** Python's ElementTree as an independent XML parser: testcases as [classname, name, outcome, message, body]. */
const PARSE = `
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = {"root": [root.tag, root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")], "cases": []}
for tc in root.iter("testcase"):
    kids = [k for k in tc if k.tag in ("failure", "error", "skipped")]
    k = kids[0] if kids else None
    out["cases"].append([tc.get("classname"), tc.get("name"), k.tag if k is not None else "passed",
                         (k.get("type") or "") if k is not None else "", (k.get("message") or "") if k is not None else "",
                         (k.text or "") if k is not None else ""])
print(json.dumps(out))
`;

describe('junit.xml', () => {
  let dir: string, run: RunResults, xml: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ih-junit-'));
    run = await writeFakeRun(dir);
    xml = buildJunit(run.summary, await loadAllDetails(run.dir, run.summary.cells));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('parses as XML with one testcase per cell and the right outcome for each verdict', async () => {
    const file = join(dir, 'junit.xml');
    await (await import('node:fs/promises')).writeFile(file, xml);
    const r = await execa('python3', ['-c', PARSE, file]);
    const out = JSON.parse(r.stdout) as { root: string[]; cases: string[][] };
    expect(out.root).toEqual(['testsuites', '7', '4', '1', '1']);
    const byName = new Map(out.cases.map((c) => [`${c[0]}/${c[1]}`, c]));
    expect(byName.get('6.1.0-56-amd64/integrity/001-pass')?.[2]).toBe('passed');
    expect(byName.get('6.1.0-56-amd64/integrity/002-fail')?.slice(2, 4)).toEqual(['failure', 'fail']);
    expect(byName.get('6.1.0-56-amd64/integrity/003-crash')?.slice(2, 5)).toEqual(['failure', 'crash', OOPS_LINE]);
    expect(byName.get('6.1.0-56-amd64/integrity/004-hang')?.slice(2, 4)).toEqual(['failure', 'hang']);
    expect(byName.get('6.1.0-56-amd64/integrity/005-error')?.slice(2, 4)).toEqual(['error', 'error']);
    expect(byName.get('4.13/integrity/001-pass')?.slice(2, 5)).toEqual(['skipped', '', '--kernel 4.13: comes from the kernel.org tarball; pass --kernel tree:/path or a bzImage']);
  });

  it('puts the console around the first oops into a crash, and the disagreements into a fail', async () => {
    const r = await execa('python3', ['-c', PARSE, join(dir, 'junit.xml')]);
    const cases = (JSON.parse(r.stdout) as { cases: string[][] }).cases;
    const crash = cases.find((c) => c[1] === 'integrity/003-crash')![5]!;
    expect(crash).toContain('console around the first oops:');
    expect(crash).toContain('RIP: 0010:__bio_integrity_endio+0x1a/0x80');
    expect(crash).toContain('[    9.200000] ih: step 1 read');
    expect(crash).not.toContain('Linux version 4.13.0');
    expect(crash).toContain('Call Trace: <escape \\x1b[0m & "quotes">');
    const fail = cases.find((c) => c[1] === 'integrity/002-fail')![5]!;
    expect(fail).toContain('model disagreements:\n  step 5 silent-acceptance block 700 (sector 700): expected EILSEQ, found read succeeded');
    expect(fail).toContain('step 6 data-mismatch block 3 (sector 3): expected pattern block 3, found <zeros>');
  });

  it('marks flaky cells and keeps XML-illegal characters out', () => {
    expect(xml).toMatch(/<property name="flaky" value="true: pass,crash"\/>/);
    expect(xmlText('a\x00b\x1bc<&>"')).toBe('a\\x00b\\x1bc&lt;&amp;&gt;&quot;');
  });
});
