import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRun } from '../../load-run.ts';
import type { Summary } from '../../results.ts';
import { copyPassRun, writeFailingRun, writeGateRun } from '../fixtures/runs.ts';
import { runToKcidb, type KcidbData } from './document.ts';
import { kcidbErrors } from './schema-check.ts';
import { TEST_STATUS } from './status.ts';
import { defaultUrlBase, parseUrlBase } from './urls.ts';
import { KCIDB_SCHEMA_FILE, KCIDB_SCHEMA_VERSION } from './version.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'ih-kcidb-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const ORIGIN = 'integrity_harness';

async function kcidbOf(dir: string, urlBase?: string): Promise<{ summary: Summary; doc: KcidbData }> {
  const run = await loadRun(dir, 'test');
  const doc = await runToKcidb(run.summary, run.dir, { origin: ORIGIN, urlBase: urlBase ?? defaultUrlBase(run.dir) });
  return { summary: run.summary, doc };
}

describe("the committed schema is kcidb-io's export", () => {
  it('is the version we write, major 5, with the status names we map to', () => {
    const schema = JSON.parse(readFileSync(KCIDB_SCHEMA_FILE, 'utf8'));
    expect(schema.properties.version.properties.major.const).toBe(KCIDB_SCHEMA_VERSION.major);
    expect(schema.properties.version.properties.minor.maximum).toBe(KCIDB_SCHEMA_VERSION.minor);
    expect(new Set(Object.values(TEST_STATUS)).size).toBeGreaterThan(3);
    for (const s of Object.values(TEST_STATUS)) expect(schema.$defs.status.enum).toContain(s);
  });
  it('rejects what it must: an unknown status, a relative URL (formats are checked), an id without origin', async () => {
    const { doc } = await kcidbOf(await copyPassRun(join(root, 'neg')));
    const t = doc.tests[0]!;
    expect(kcidbErrors({ ...doc, tests: [{ ...t, status: 'CRASH' }] }).join()).toMatch(/status/);
    expect(kcidbErrors({ ...doc, tests: [{ ...t, log_url: 'cells/x/console.log' }] }).join()).toMatch(/format "uri"/);
    expect(kcidbErrors({ ...doc, tests: [{ ...t, id: 'no-origin' }] }).join()).toMatch(/\/tests\/0\/id/);
    expect(kcidbErrors({ ...doc, checkouts: [{ ...doc.checkouts[0]!, start_time: 'yesterday' }] }).join()).toMatch(/date-time/);
  });
});

describe('a passing run (the default library on Debian 6.1)', () => {
  it("validates against KernelCI's schema, one PASS test per cell on the package's build", async () => {
    const { summary, doc } = await kcidbOf(await copyPassRun(join(root, 'pass')));
    expect(kcidbErrors(doc)).toEqual([]);
    expect(doc.version).toEqual({ major: 5, minor: 3 });
    expect(doc.checkouts).toHaveLength(1);
    expect(doc.builds).toEqual([expect.objectContaining({ status: 'PASS', checkout_id: doc.checkouts[0]!.id, config_name: 'debian' })]);
    expect(doc.checkouts[0]!.patchset_hash).toBe('');
    expect(doc.tests).toHaveLength(summary.cells.length);
    expect(new Set(doc.tests.map((t) => t.id)).size).toBe(summary.cells.length);
    for (const t of doc.tests) {
      expect(t.id.startsWith(`${ORIGIN}:${summary.runId}/`)).toBe(true);
      expect(t.status).toBe('PASS');
      expect(t.build_id).toBe(doc.builds[0]!.id);
      expect(t.path).toMatch(/^integrity_harness\.(integrity|crypt|luks)\.\d{3}-/);
    }
  });
});

describe('a failing run (src:6.1 + a patch)', () => {
  let doc: KcidbData;
  let summary: Summary;
  let dir: string;
  beforeAll(async () => {
    dir = (await writeFailingRun(join(root, 'fail'))).dir;
    ({ doc, summary } = await kcidbOf(dir));
  });

  it("validates against KernelCI's schema", () => expect(kcidbErrors(doc)).toEqual([]));

  it('maps verdicts: crash and hang FAIL with the verdict in misc, error ERROR, pass PASS', () => {
    const byScenario = new Map(doc.tests.map((t) => [(t.misc as { scenario: string }).scenario, t]));
    for (const c of summary.cells) {
      const t = byScenario.get(c.scenario)!;
      expect(t.status).toBe({ pass: 'PASS', fail: 'FAIL', crash: 'FAIL', hang: 'FAIL', error: 'ERROR', skip: 'SKIP' }[c.verdict]);
      expect((t.misc as { verdict: string }).verdict).toBe(c.verdict);
    }
    expect(byScenario.get('crypt/001-gcm-read-after-write')!.log_excerpt).toContain('bio_integrity_process+0x135/0x18f');
    expect(byScenario.get('integrity/001-crc32c-journal-corrupt')!.log_excerpt).toContain('seen:     read succeeded');
  });

  it('carries the patchset (files and the hash KCIDB defines), the kept .config and build log as file:// URLs', async () => {
    const [k] = summary.kernels;
    const co = doc.checkouts[0]!;
    const patchBody = await readFile(join(dir, k!.patches![0]!));
    const perPatch = `${createHash('sha256').update(patchBody).digest('hex')}\n`;
    expect(co.patchset_hash).toBe(createHash('sha256').update(perPatch).digest('hex'));
    expect(co.patchset_files).toEqual([{ name: '0001-seed.patch', url: expect.stringMatching(/^file:\/\//) }]);
    const b = doc.builds[0]!;
    for (const url of [b.config_url!, b.log_url!, co.patchset_files![0]!.url, ...doc.tests.map((t) => t.log_url!)]) {
      expect(existsSync(fileURLToPath(url)), url).toBe(true);
    }
    expect(readFileSync(fileURLToPath(b.config_url!), 'utf8')).toContain('CONFIG_DM_INTEGRITY=y');
  });

  it('points the URLs at the published run directory with --kcidb-url', async () => {
    const base = parseUrlBase('https://ci.example.org/runs/42');
    const { doc: published } = await kcidbOf(dir, base);
    expect(kcidbErrors(published)).toEqual([]);
    expect(published.builds[0]!.config_url).toBe('https://ci.example.org/runs/42/kernels/6.1.158%2Bseed.config');
    expect(published.tests.every((t) => t.log_url!.startsWith('https://ci.example.org/runs/42/cells/'))).toBe(true);
  });
});

describe('a gate run', () => {
  it('validates, with a build per side and compatibility cells on the reading kernel', async () => {
    const { doc, summary } = await kcidbOf((await writeGateRun(join(root, 'gate'))).dir);
    expect(kcidbErrors(doc)).toEqual([]);
    expect(doc.builds).toHaveLength(2);
    const compat = doc.tests.filter((t) => t.path === 'integrity_harness.compat.crypt-gcm-random');
    expect(compat).toHaveLength(2);
    const cand = summary.kernels.find((k) => k.patches !== undefined)!;
    const read = compat.find((t) => (t.misc as { gate: { reader: string } }).gate.reader === 'candidate')!;
    expect(read.build_id).toBe(`${ORIGIN}:${summary.runId}/${cand.label}`);
    expect(read.status).toBe('FAIL');
    expect((read.misc as { gate: { change: string } }).gate.change).toBe('regression');
  });
});
