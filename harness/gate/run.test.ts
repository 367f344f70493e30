/**
 * The gate end to end with the VM layer replaced: kernels are "prepared" without building or booting, the
 * matrix's cells and the compatibility phases get verdicts from a table. Everything between (planning,
 * relabelling, the compatibility pass's two phases, the comparison, the exit code, summary.json, JUnit, HTML)
 * is the real code.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { loadAllDetails } from '../reports/details.ts';
import { buildHtml } from '../reporters/html.ts';
import { buildJunit } from '../reporters/junit.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults, type KernelRecord } from '../results.ts';
import type { CellSpec } from '../run/session/cell.ts';
import type { ReadyKernel } from '../run/kernels.ts';
import type { PreparedKernels } from '../run/matrix.ts';
import type { Verdict } from '../verdict/types.ts';
import { planRecord } from '../plan.ts';
import { loadSchema, validate } from '../schema/validate.ts';
import { parseGateArgs } from './config.ts';
import { gateAndFinish, planGate, type GateDeps } from './run.ts';

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'ih-gate-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

type Role = 'base' | 'candidate';

interface World {
  /** scenario id -> verdict, per side; a missing scenario passes */
  cells?: Partial<Record<Role, Record<string, Verdict>>>;
  /** kernel status per side (default ok) */
  status?: Partial<Record<Role, KernelRecord['status']>>;
  /** labels the kernels resolve to (default distinct) */
  labels?: Record<Role, string>;
  /** compatibility phase verdicts: `${phase}:${role}` -> verdict (default pass) */
  compat?: Record<string, Verdict>;
  /** verdicts a compatibility phase gives its first runs, one each, before `compat` (or pass) holds */
  compatFirst?: Record<string, Verdict[]>;
  /** a compatibility phase's verdict at one position of a shared guest: `${phase}:${role}@${position}` */
  compatAt?: Record<string, Verdict>;
}

/** A fake VM layer over the real gate: returns what the gate run did and its exit code. */
async function gate(argv: string[], world: World = {}) {
  const cfg = parseGateArgs([...argv, '--results', root, '--jobs', '1'], {});
  const gp = await planGate(cfg);
  const results = await RunResults.create(root, ['gate', ...argv], { plan: planRecord(gp.plan) });
  const role = (text: string): Role => (text === cfg.base.text ? 'base' : 'candidate');
  const labels = world.labels ?? { base: '6.1.158', candidate: '6.1.158+fix' };
  const phases: string[] = [];
  const hooks: string[] = [];
  const reporter = {
    onExecutionBegin: (e: { id: string; repeat: number; attempt: number }) => void hooks.push(`begin ${e.id} rep${e.repeat} try${e.attempt}`),
    onExecutionEnd: (e: { id: string; verdict: Verdict }) => void hooks.push(`end ${e.id} ${e.verdict}`),
    onCellEnd: (c: { id: string; verdict: Verdict }) => void hooks.push(`cell ${c.id} ${c.verdict}`),
  };
  const guests: string[] = [];
  async function runCell(spec: CellSpec, position?: number) {
    const r = role(spec.kernel.spec);
    phases.push(`${spec.scenario.id} ${spec.phase}:${r}${spec.seedDisks ? ` seed=${Object.values(spec.seedDisks).map((p) => p.split('/cells/')[1]).join(',')}` : ''}`);
    const verdict = world.compatAt?.[`${spec.phase}:${r}@${position}`] ?? world.compatFirst?.[`${spec.phase}:${r}`]?.shift() ?? world.compat?.[`${spec.phase}:${r}`] ?? 'pass';
    return { verdict, reason: `fake ${spec.phase} ${verdict}`, durationMs: 500 };
  }
  const deps: GateDeps = {
    async prepareMatrix(_cfg, plan, res): Promise<PreparedKernels> {
      const kernels = new Map<string, ReadyKernel | KernelRecord>();
      for (const text of plan.kernels) {
        const r = role(text);
        const status = world.status?.[r] ?? 'ok';
        if (status !== 'ok') {
          const rec: KernelRecord = { spec: text, label: `src:6.1+${r}`, status, message: `${r} did not build` };
          res.summary.kernels.push(rec);
          kernels.set(text, rec);
          continue;
        }
        res.summary.kernels.push({ spec: text, label: labels[r], status: 'ok', source: 'fake' });
        kernels.set(text, {
          kernel: { spec: text, label: labels[r], bootImage: `/nonexistent/${r}`, source: 'fake' },
          image: { path: '/nonexistent', modules: [], fromCache: true, hash: 'fake' },
        });
      }
      return { kernels, accel: { accel: 'tcg', reason: 'fake' } };
    },
    async runMatrix(_cfg, plan, res, reporters, _log, _stop, prepared) {
      for (const c of plan.cells) {
        const k = prepared!.kernels.get(c.kernel.text)!;
        const ready = 'image' in k;
        const label = ready ? (k as ReadyKernel).kernel.label : (k as KernelRecord).label!;
        const verdict: Verdict = ready ? (world.cells?.[role(c.kernel.text)]?.[c.scenario.id] ?? 'pass') : 'skip';
        const rec = await res.addCell({
          id: `${label}/${c.scenario.id}`, kernel: label, kernelSpec: c.kernel.text, scenario: c.scenario.id, verdict,
          reason: verdict === 'crash' ? 'BUG: kernel NULL pointer dereference' : `fake ${verdict}`, durationMs: 1000, dir: '',
          ...(verdict === 'crash' ? { signature: 'BUG: kernel NULL pointer dereference @ bio_integrity_process' } : {}),
        });
        await reporters.emit('onCellEnd', rec);
      }
      return prepared!;
    },
    runCell,
    // --share-guest N: the same phases, each at a position in a fake shared guest; every guest opened is logged
    async openGuest(batch, guestDir) {
      guests.push(`${guestDir.split('/').at(-1)}: ${batch.map((b) => `${b.scenario.id} ${b.phase}:${role(b.kernel.spec)}`).join(', ')}`);
      return {
        async run(spec: CellSpec, position: number) {
          await mkdir(spec.dir, { recursive: true });
          const r = await runCell(spec, position);
          const result = { ...r, steps: [], disagreements: [], kernelRelease: 'r' };
          return { verdict: r.verdict, reusable: r.verdict === 'pass' || r.verdict === 'skip', result, guestDir, before: batch.slice(0, position).map((b) => b.scenario.id) };
        },
        after: async () => undefined,
        close: async () => undefined,
      };
    },
  };
  const code = await gateAndFinish(cfg, gp, results, new Reporters([reporter]), () => undefined, undefined, deps);
  return { code, summary: results.summary, results, phases, cfg, hooks, guests };
}

const CRYPT = ['--scenario', 'crypt/001-*', '--scenario', 'integrity/001-*'];
const SRC = ['--base', 'src:6.1', '--candidate', 'src:6.1'];

describe('gate exit codes and classification (fake VM layer)', () => {
  it('exits 1 on a regression and lists it first, with the base verdict beside it', async () => {
    const { code, summary } = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { candidate: { 'crypt/001-gcm-read-after-write': 'crash' } } });
    expect(code).toBe(1);
    expect(summary.exitCode).toBe(1);
    const reg = summary.cells.filter((c) => c.gate?.change === 'regression');
    expect(reg.map((c) => [c.scenario, c.gate?.base, c.verdict])).toEqual([['crypt/001-gcm-read-after-write', 'pass', 'crash']]);
    expect(summary.gate).toMatchObject({ regressions: 1, unjudged: 0, fixed: 0, compared: 2, compat: [] });
    expect(validate(loadSchema('summary'), JSON.parse(JSON.stringify(summary)))).toEqual([]);
  });

  it('exits 0 when the candidate keeps or fixes everything, even cells that fail on both', async () => {
    const { code, summary } = await gate([...SRC, ...CRYPT, '--no-compat'], {
      cells: { base: { 'crypt/001-gcm-read-after-write': 'fail', 'integrity/001-crc32c-journal-corrupt': 'fail' }, candidate: { 'integrity/001-crc32c-journal-corrupt': 'fail' } },
    });
    expect(code).toBe(0);
    expect(summary.gate).toMatchObject({ regressions: 0, fixed: 1, unjudged: 0 });
  });

  it('an infrastructure error on the candidate is 125, not a regression; with a real regression beside it, 1', async () => {
    const onlyError = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { candidate: { 'crypt/001-gcm-read-after-write': 'error' } } });
    expect(onlyError.code).toBe(125);
    expect(onlyError.summary.gate).toMatchObject({ regressions: 0, unjudged: 1 });
    const both = await gate([...SRC, ...CRYPT, '--no-compat'], {
      cells: { candidate: { 'crypt/001-gcm-read-after-write': 'error', 'integrity/001-crc32c-journal-corrupt': 'hang' } },
    });
    expect(both.code).toBe(1);
  });

  it('base erroring where the candidate fails cannot be judged (125); base skipping there is not blamed (0)', async () => {
    const err = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { base: { 'crypt/001-gcm-read-after-write': 'error' }, candidate: { 'crypt/001-gcm-read-after-write': 'fail' } } });
    expect(err.code).toBe(125);
    const skip = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { base: { 'crypt/001-gcm-read-after-write': 'skip' }, candidate: { 'crypt/001-gcm-read-after-write': 'fail' } } });
    expect(skip.summary.cells.find((c) => c.gate?.role === 'candidate' && c.verdict === 'fail')?.gate?.change).toBe('new');
    expect(skip.code).toBe(0);
  });

  it('a kernel that did not build leaves nothing judged: 125, on either side, and its compatibility cells skip', async () => {
    for (const side of ['base', 'candidate'] as const) {
      const { code, summary, phases } = await gate([...SRC, ...CRYPT, '--compat-stack', 'compat/integrity-*'], { status: { [side]: 'build-failed' } });
      expect(code, side).toBe(125);
      expect(phases).toEqual([]);
      expect(summary.cells.filter((c) => c.gate?.role === 'compat').map((c) => c.verdict)).toEqual(['skip', 'skip']);
    }
  });

  it('every cell skipped on both sides: 125', async () => {
    const skipAll = { 'crypt/001-gcm-read-after-write': 'skip', 'integrity/001-crc32c-journal-corrupt': 'skip' } as const;
    const { code } = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { base: skipAll, candidate: skipAll } });
    expect(code).toBe(125);
  });
});

describe('the compatibility pass (fake VM layer)', () => {
  it('writes with one kernel, then reads a copy of that disk with the other, in both directions', async () => {
    const { code, summary, phases } = await gate([...SRC, '--scenario', 'crypt/001-*', '--share-guest', '1'], {});
    expect(code).toBe(0);
    const ids = summary.gate!.compat;
    expect(ids).toEqual(['compat/crypt-gcm-random', 'compat/integrity-crc32c-journal', 'compat/luks2-gcm-aead']);
    expect(phases.filter((p) => p.startsWith('compat/crypt-gcm-random'))).toEqual([
      'compat/crypt-gcm-random write:base',
      'compat/crypt-gcm-random read:candidate seed=base_candidate__compat_crypt-gcm-random/write/disks/data.img',
      'compat/crypt-gcm-random write:candidate',
      'compat/crypt-gcm-random read:base seed=candidate_base__compat_crypt-gcm-random/write/disks/data.img',
    ]);
    const compat = summary.cells.filter((c) => c.gate?.role === 'compat');
    expect(compat.map((c) => c.id).sort()).toEqual(ids.flatMap((id) => [`base→candidate/${id}`, `candidate→base/${id}`]).sort());
    // each sits in its reader's column
    expect(compat.find((c) => c.kernel === 'base→candidate')?.kernelSpec).toBe(summary.gate!.candidate.spec);
  });

  it('a reader that disagrees with the model is a regression (1) in that direction only', async () => {
    const { code, summary } = await gate([...SRC, '--scenario', 'crypt/001-*', '--compat-stack', 'compat/luks2-*'], { compat: { 'read:base': 'fail' } });
    expect(code).toBe(1);
    const reg = summary.cells.filter((c) => c.gate?.change === 'regression');
    expect(reg.map((c) => c.id)).toEqual(['candidate→base/compat/luks2-gcm-aead']);
    expect(reg[0]!.reason).toMatch(/^base \(6\.1\.158\) reading the disk candidate \(6\.1\.158\+fix\) wrote: fake read fail/);
  });

  it('a writer that fails decides the cell and the reader never boots; an infrastructure error there is 125', async () => {
    const failed = await gate([...SRC, '--scenario', 'crypt/001-*', '--compat-stack', 'compat/integrity-*'], { compat: { 'write:candidate': 'crash' } });
    expect(failed.code).toBe(1);
    expect(failed.phases.some((p) => p.includes('read:base'))).toBe(false);
    const errored = await gate([...SRC, '--scenario', 'crypt/001-*', '--compat-stack', 'compat/integrity-*'], { compat: { 'write:candidate': 'error' } });
    expect(errored.code).toBe(125);
  });
});

describe('compatibility cells as planned cells (fake VM layer)', () => {
  const ONE = [...SRC, '--scenario', 'crypt/001-*', '--compat-stack', 'compat/integrity-*'];
  const ID = 'compat/integrity-crc32c-journal';

  it('get the reporters\' execution hooks and --repeat: each repetition writes and reads again, in its own directory', async () => {
    const { code, summary, phases, hooks } = await gate([...ONE, '--repeat', '2', '--share-guest', '1'], { compatFirst: { 'read:base': ['fail'] } });
    expect(phases.filter((p) => p.startsWith(ID)).map((p) => p.replace(/ seed=.*/, ''))).toEqual([
      `${ID} write:base`, `${ID} read:candidate`, `${ID} write:base`, `${ID} read:candidate`,
      `${ID} write:candidate`, `${ID} read:base`, `${ID} write:candidate`, `${ID} read:base`,
    ]);
    expect(phases.filter((p) => p.startsWith(ID) && p.includes('seed='))[1]).toMatch(/base_candidate__compat_integrity-crc32c-journal\/rep2-try1\/write\/disks\/data\.img$/);
    expect(hooks.filter((h) => h.includes(`→`))).toEqual([
      `begin base→candidate/${ID} rep1 try1`, `end base→candidate/${ID} pass`,
      `begin base→candidate/${ID} rep2 try1`, `end base→candidate/${ID} pass`, `cell base→candidate/${ID} pass`,
      `begin candidate→base/${ID} rep1 try1`, `end candidate→base/${ID} fail`,
      `begin candidate→base/${ID} rep2 try1`, `end candidate→base/${ID} pass`, `cell candidate→base/${ID} fail`,
    ]);
    const flaky = summary.cells.find((c) => c.id === `candidate→base/${ID}`)!;
    expect(flaky).toMatchObject({ verdict: 'fail', flaky: true, gate: { role: 'compat', writer: 'candidate', reader: 'base' } });
    expect(flaky.runs?.map((r) => `${r.repeat}:${r.verdict}:${r.dir}`)).toEqual([
      `1:fail:cells/candidate_base__${ID.replace('/', '_')}/rep1-try1/read`, `2:pass:cells/candidate_base__${ID.replace('/', '_')}/rep2-try1/read`,
    ]);
    expect(code).toBe(1);
  });

  it('get --retries: an infrastructure error in a phase runs the whole direction again', async () => {
    const without = await gate([...ONE, '--share-guest', '1'], { compatFirst: { 'write:candidate': ['error'] } });
    expect(without.code).toBe(125);
    const { code, summary, phases } = await gate([...ONE, '--retries', '1', '--share-guest', '1'], { compatFirst: { 'write:candidate': ['error'] } });
    expect(code).toBe(0);
    expect(phases.filter((p) => p.startsWith(ID)).map((p) => p.replace(/ seed=.*/, ''))).toEqual([
      `${ID} write:base`, `${ID} read:candidate`, `${ID} write:candidate`, `${ID} write:candidate`, `${ID} read:base`,
    ]);
    const cell = summary.cells.find((c) => c.id === `candidate→base/${ID}`)!;
    expect(cell.verdict).toBe('pass');
    expect(cell.reason).toMatch(/1 infrastructure error\(s\) retried/);
    expect(cell.runs?.map((r) => `${r.attempt}:${r.verdict}`)).toEqual(['1:error', '2:pass']);
  });
});

describe('compatibility cells in shared guests (--share-guest, fake VM layer)', () => {
  const ONE = [...SRC, '--scenario', 'crypt/001-*', '--compat-stack', 'compat/integrity-*'];
  const ID = 'compat/integrity-crc32c-journal';

  it('run each phase in a guest of its kernel beside other phases: the writers on one, the readers on the other', async () => {
    const { code, summary, guests, phases } = await gate([...SRC, '--scenario', 'crypt/001-*'], {});
    expect(code).toBe(0);
    // 12 phases in 5 guests: a phase that passed queues the execution's next phase on the other kernel
    expect(guests).toEqual([
      '6.1.158-1: compat/crypt-gcm-random write:base, compat/integrity-crc32c-journal write:base, compat/luks2-gcm-aead write:base',
      '6.1.158+fix-1: compat/crypt-gcm-random read:candidate, compat/integrity-crc32c-journal read:candidate, compat/crypt-gcm-random write:candidate, compat/integrity-crc32c-journal write:candidate, compat/luks2-gcm-aead write:candidate',
      '6.1.158-2: compat/crypt-gcm-random read:base, compat/integrity-crc32c-journal read:base',
      '6.1.158-3: compat/luks2-gcm-aead read:base',
      '6.1.158+fix-2: compat/luks2-gcm-aead read:candidate',
    ]);
    // every reader reads a copy of what its own writer left
    expect(phases.filter((p) => p.includes(' read:')).map((p) => p.replace(/^(\S+) read:(\w+) seed=(\w+?)_.*$/, '$1 $2 $3')).sort()).toEqual(
      summary.gate!.compat.flatMap((id) => [`${id} base candidate`, `${id} candidate base`]).sort());
    const compat = summary.cells.filter((c) => c.gate?.role === 'compat');
    expect(compat.map((c) => [c.id, c.verdict, c.guest?.replace(/-\d+$/, '')])).toEqual(summary.gate!.compat.flatMap((id) => [
      [`base→candidate/${id}`, 'pass', 'guests/6.1.158+fix'], [`candidate→base/${id}`, 'pass', 'guests/6.1.158'],
    ]).sort((a, b) => compat.findIndex((c) => c.id === a[0]) - compat.findIndex((c) => c.id === b[0])));
    expect(compat.find((c) => c.id === `base→candidate/${ID}`)!.reason).toMatch(/^candidate \(6\.1\.158\+fix\) read every block base \(6\.1\.158\) wrote: fake read pass$/);
    // counted in the plan with the matrix's cells
    expect(summary.plan).toMatchObject({ cells: 2 + 6, totalCells: 2 + 6, compatCells: 6 });
    expect(validate(loadSchema('summary'), JSON.parse(JSON.stringify(summary)))).toEqual([]);
  });

  it('a reader that fails after another scenario in its guest runs again first in a fresh guest, and the fail stays', async () => {
    // the candidate's guest reads compat/crypt-gcm-random first, then compat/integrity-crc32c-journal (the first test's guests)
    const two = await gate([...SRC, '--scenario', 'crypt/001-*'], { compatAt: { 'read:candidate@1': 'fail' } });
    const cell = two.summary.cells.find((c) => c.id === `base→candidate/${ID}`)!;
    expect(cell.verdict).toBe('fail');
    expect(cell.sharedRun).toMatchObject({ verdict: 'fail', before: ['compat/crypt-gcm-random'], rerun: { verdict: 'pass' } });
    expect(cell.reason).toMatch(/^candidate \(6\.1\.158\+fix\) reading the disk base \(6\.1\.158\) wrote: fake read fail \(in a shared guest after compat\/crypt-gcm-random; run again first in a fresh guest it passed/);
    // the rerun is the first scenario of a fresh guest
    expect(two.guests.filter((g) => g.includes(`: ${ID} read:candidate`))).toHaveLength(1);
    expect(two.code).toBe(1);
  });

  it('get --repeat and --retries: an infrastructure error in a phase runs the whole direction again, reported as one execution each', async () => {
    const { code, summary, phases, hooks } = await gate([...ONE, '--retries', '1', '--repeat', '2'], { compatFirst: { 'write:base': ['error'] } });
    expect(code).toBe(0);
    const cell = summary.cells.find((c) => c.id === `base→candidate/${ID}`)!;
    expect(cell.runs?.map((r) => `${r.repeat}:${r.attempt}:${r.verdict}:${r.dir}`)).toEqual([
      `1:1:error:cells/base_candidate__compat_integrity-crc32c-journal/rep1-try1/write`,
      `1:2:pass:cells/base_candidate__compat_integrity-crc32c-journal/rep1-try2/read`,
      `2:1:pass:cells/base_candidate__compat_integrity-crc32c-journal/rep2-try1/read`,
    ]);
    expect(phases.filter((p) => p.startsWith(`${ID} write:base`))).toHaveLength(3);
    // one begin and one end per execution (a retry is an execution of its own), the cell once, after them all
    const mine = hooks.filter((h) => h.includes(`base→candidate/${ID}`));
    expect(mine.filter((h) => h.startsWith('begin')).sort()).toEqual([`begin base→candidate/${ID} rep1 try1`, `begin base→candidate/${ID} rep1 try2`, `begin base→candidate/${ID} rep2 try1`]);
    expect(mine.filter((h) => h.startsWith('end')).sort()).toEqual([`end base→candidate/${ID} error`, `end base→candidate/${ID} pass`, `end base→candidate/${ID} pass`]);
    expect(mine.at(-1)).toBe(`cell base→candidate/${ID} pass`);
  });
});

describe('base vs the same kernel', () => {
  it('keeps the two sides apart: distinct --kernel texts and labels, both run', async () => {
    const { code, summary, cfg } = await gate([...SRC, '--scenario', 'crypt/001-*', '--no-compat'], { labels: { base: '6.1.158', candidate: '6.1.158' } });
    expect(code).toBe(0);
    expect([cfg.base.text, cfg.candidate.text]).toEqual(['src:6.1 [base]', 'src:6.1 [candidate]']);
    expect(summary.kernels.map((k) => k.label)).toEqual(['6.1.158@base', '6.1.158@candidate']);
    expect(summary.cells.map((c) => c.id)).toEqual(['6.1.158@base/crypt/001-gcm-read-after-write', '6.1.158@candidate/crypt/001-gcm-read-after-write']);
  });
});

describe('reports of a gate run', () => {
  it('JUnit: one testcase per scenario with both verdicts; the regression is the failure', async () => {
    const { summary, results } = await gate([...SRC, ...CRYPT, '--compat-stack', 'compat/integrity-*'], {
      cells: { candidate: { 'crypt/001-gcm-read-after-write': 'crash' }, base: { 'integrity/001-crc32c-journal-corrupt': 'fail' } },
    });
    const xml = buildJunit(summary, await loadAllDetails(results.dir, summary.cells));
    const file = join(results.dir, 'junit.xml');
    await (await import('node:fs/promises')).writeFile(file, xml);
    const r = await execa('python3', ['-c', `
import sys, json, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
out = [root.get("tests"), root.get("failures"), root.get("errors")]
for tc in root.iter("testcase"):
    props = {p.get("name"): p.get("value") for p in tc.iter("property")}
    kids = [k.tag + ":" + (k.get("type") or "") for k in tc if k.tag in ("failure", "error", "skipped")]
    out.append([tc.get("name"), props.get("base.verdict") or props.get("writer"), props.get("candidate.verdict") or props.get("reader"), kids])
print(json.dumps(out))`, file]);
    expect(JSON.parse(r.stdout)).toEqual([
      '4', '1', '0',
      ['crypt/001-gcm-read-after-write', 'pass', 'crash', ['failure:regression']],
      ['integrity/001-crc32c-journal-corrupt', 'fail', 'pass', []],
      ['compat/integrity-crc32c-journal (base→candidate)', 'base', 'candidate', []],
      ['compat/integrity-crc32c-journal (candidate→base)', 'candidate', 'base', []],
    ]);
  });

  it('HTML: base and candidate columns, the regression outlined and listed first', async () => {
    const { summary, results } = await gate([...SRC, ...CRYPT, '--no-compat'], { cells: { candidate: { 'crypt/001-gcm-read-after-write': 'crash' } } });
    const html = buildHtml(summary, await loadAllDetails(results.dir, summary.cells));
    expect(html).toContain('<th>base: 6.1.158<small>src:6.1 [base]</small></th><th>candidate: 6.1.158+fix<small>src:6.1 [candidate]</small></th>');
    expect(html).toMatch(/<td class="v-crash regression" data-verdict="crash" data-cell="6\.1\.158\+fix\/crypt\/001-gcm-read-after-write">/);
    expect(html.indexOf('Regressions: pass on base')).toBeLessThan(html.indexOf('Base &times; candidate'));
    const saved = JSON.parse(await readFile(join(results.dir, 'summary.json'), 'utf8'));
    expect(saved.gate).toMatchObject({ base: { spec: 'src:6.1 [base]', label: '6.1.158' }, regressions: 1 });
  });
});

describe('parseGateArgs', () => {
  const fix = 'scenarios/regressions/4.13-bio-integrity-endio.patch';
  const kernels = (argv: string[]): [KernelSpec, KernelSpec] => {
    const c = parseGateArgs(argv, {});
    return [c.base, c.candidate];
  };
  it('binds --patch to the --base or --candidate before it, and options before both to both', () => {
    const [b, c] = kernels(['--base', 'src:6.1', '--candidate', 'src:6.1', '--patch', fix]);
    expect([b.text, c.text]).toEqual(['src:6.1', `src:6.1 --patch ${fix}`]);
    const [b2, c2] = kernels(['--make-arg', 'CC=gcc-12', '--candidate', 'src:6.1', '--patch', fix, '--base', 'tree:/src/linux@v6.1']);
    expect(b2).toMatchObject({ kind: 'tree', build: { patches: [], makeArgs: ['CC=gcc-12'] } });
    expect(c2).toMatchObject({ kind: 'src', build: { patches: [fix], makeArgs: ['CC=gcc-12'] } });
    const [b3] = kernels(['--patch', fix, '--base', '6.1', '--candidate', 'src:6.1']);
    expect(b3).toEqual({ kind: 'alias', text: '6.1', version: '6.1' });
  });

  it('builds both sides with gcov under --coverage, as the matrix it runs does', () => {
    const c = parseGateArgs(['--base', 'src:6.1', '--candidate', 'src:6.1', '--patch', fix, '--coverage'], {});
    expect([c.base.text, c.candidate.text]).toEqual(['src:6.1 --coverage', `src:6.1 --patch ${fix} --coverage`]);
    expect(c.candidate).toMatchObject({ kind: 'src', build: { patches: [fix], coverage: expect.arrayContaining(['drivers/md/dm-integrity.o']) } });
    expect(c.matrix.kernels).toEqual([c.base, c.candidate]);
  });

  it('refuses what cannot be gated, naming the option', () => {
    expect(() => parseGateArgs(['--base', '6.1'], {})).toThrow(/--candidate <kernel> is required/);
    expect(() => parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--base', '6.1'], {})).toThrow(/--base is given 2 times/);
    expect(() => parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--patch', fix], {})).toThrow(/follows --candidate 6\.12, which is not built here/);
    expect(() => parseGateArgs(['--patch', fix, '--base', '6.1', '--candidate', '6.12'], {})).toThrow(/neither --base nor --candidate is built from source/);
    expect(() => parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--kernel', '6.1'], {})).toThrow(/unknown option '--kernel'/);
  });

  it('gates the default library: slow scenarios only with --slow or a --scenario that names them', async () => {
    const plan = async (...extra: string[]) => (await planGate(parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--no-compat', ...extra], {}))).plan;
    const quick = await plan();
    expect(quick.cells.some((c) => c.scenario.id.startsWith('crash/'))).toBe(false);
    expect(quick.cells.some((c) => c.scenario.id.startsWith('integrity/'))).toBe(true);
    expect(quick.slowNotRun?.globs).toEqual(expect.arrayContaining([
      'crash/*', 'crypt/016-integrity-without-profile', 'crypt/017-gcm-race-suspend-reload', 'integrity/053-profile-conflict-reload',
      'integrity/060-race-suspend-reload-journal', 'crypt/018-gcm-unstable-buffer', 'integrity/061-unstable-buffer-journal',
      'integrity/062-unstable-buffer-bitmap', 'integrity/063-unstable-buffer-direct-512',
    ]));
    const all = await plan('--slow');
    expect(all.cells.filter((c) => c.scenario.id.startsWith('crash/')).length).toBe(2 * quick.slowNotRun!.scenarios.filter((id) => id.startsWith('crash/')).length);
    expect(all.cells.filter((c) => c.scenario.id === 'integrity/053-profile-conflict-reload')).toHaveLength(2);
    expect(all.cells.filter((c) => c.scenario.id === 'integrity/061-unstable-buffer-journal')).toHaveLength(2);
    expect(all.slowNotRun?.scenarios).toEqual([]);
    const named = await plan('--scenario', 'crash/001*', '--scenario', 'crash/002*');
    expect(named.cells.map((c) => c.scenario.id)).toEqual(['crash/001-journal-crc32c', 'crash/002-bitmap-crc32c', 'crash/001-journal-crc32c', 'crash/002-bitmap-crc32c']);
  });

  it('runs the compatibility pass unless --no-compat; --compat-stack picks stacks', () => {
    expect(parseGateArgs(['--base', '6.1', '--candidate', '6.12'], {})).toMatchObject({ compat: true, compatGlobs: [] });
    expect(parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--no-compat'], {})).toMatchObject({ compat: false });
    expect(parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--compat-stack', 'compat/luks2-*'], {})).toMatchObject({ compat: true, compatGlobs: ['compat/luks2-*'] });
  });
});
