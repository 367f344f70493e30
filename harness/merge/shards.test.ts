/**
 * Merging synthetic shard directories laid out as `npm run matrix --shard i/n --share-guest` writes them
 * (cells/, guests/<kernel>-<n>/, kernels/<label>.build.log, result.json pointing at its guest): the merge
 * must give what one unsharded run of the same cells gives, with every file it references present.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithBaseline } from '../verdict/baseline.ts';
import { loadRun, type LoadedRun } from '../load-run.ts';
import { UsageError } from '../errors.ts';
import { exitCodeForSummary } from '../verdict/exit-code.ts';
import { finishRun } from '../finish.ts';
import { judgeGate } from '../verdict/gate.ts';
import { mergeIncomplete, mergeRuns, mergeWarnings } from '../merge.ts';
import { cellDirName, recordBaseline, recordGate, RunResults, type CellRecord, type Summary } from '../results.ts';
import type { Verdict } from '../verdict/types.ts';
import { loadSchema, validate } from '../schema/validate.ts';
import { freeName } from './files.ts';

interface CellPlan {
  spec: string;
  label: string;
  scenario: string;
  verdict: Verdict;
  /** which shard runs it, and its guest there (1-based) */
  shard: number;
  guest: number;
  compat?: { writer: 'base' | 'candidate'; reader: 'base' | 'candidate' };
}

let root: string;
beforeAll(async () => { root = await mkdtemp(join(tmpdir(), 'ih-merge-shards-')); });
afterAll(async () => { await rm(root, { recursive: true, force: true }); });

const LABELS: Record<string, string> = { '6.1': '6.1.0-56-amd64', '6.12': '6.12.9-amd64' };

/**
 * A run of `cells` (those of `shard`, or all with shard 0) written the way the matrix writes one:
 * `recordGuest` false models a summary from before cells recorded their guest (result.json alone says).
 */
async function writeRun(dir: string, runId: string, cells: CellPlan[], o: { shard?: number; total?: number; recordGuest?: boolean; gate?: boolean } = {}): Promise<LoadedRun> {
  const mine = cells.filter((c) => !o.shard || c.shard === o.shard);
  const r = await RunResults.create(dir, ['matrix', '--kernel', '6.1', '--kernel', '6.12'], {
    runId, plan: { kernels: ['6.1', '6.12'], totalCells: cells.length, cells: mine.length, repeat: 1, retries: 0, ...(o.shard ? { shard: { index: o.shard, total: o.total! } } : {}) },
  });
  r.summary.kernels = Object.entries(LABELS).map(([spec, label]) => ({ spec, label, status: 'ok' as const, source: 'test', buildLog: `kernels/${label}.build.log`,
    config: `kernels/${label}.config`, patches: [`kernels/${label}.patches/0001-fix.patch`] }));
  for (const k of r.summary.kernels) {
    await mkdir(join(r.dir, 'kernels', `${k.label}.patches`), { recursive: true });
    for (const f of [k.buildLog!, k.config!, ...k.patches!]) await writeFile(join(r.dir, f), `${f} of ${k.label}\n`);
  }
  // guests are numbered per run, as the matrix does: <label>-<n> in the order they were opened
  const guestNames = new Map<string, string>();
  const n = new Map<string, number>();
  for (const c of mine) {
    const key = `${c.label} ${c.guest}`;
    if (!guestNames.has(key)) {
      const i = (n.get(c.label) ?? 0) + 1;
      n.set(c.label, i);
      guestNames.set(key, `${c.label}-${i}`);
    }
  }
  for (const c of mine) {
    // compatibility cells boot guests of their own (runCell), outside guests/
    const guest = c.compat ? undefined : guestNames.get(`${c.label} ${c.guest}`)!;
    const gdir = join(r.dir, 'guests', guest ?? '');
    if (guest !== undefined) {
      const slots = mine.filter((x) => !x.compat && guestNames.get(`${x.label} ${x.guest}`) === guest).map((x) => `${x.label}/${x.scenario}`);
      await mkdir(gdir, { recursive: true });
      await writeFile(join(gdir, 'console.log'), `whole console of ${guest} in ${runId}\n`);
      await writeFile(join(gdir, 'guest.json'), JSON.stringify({ kernelRelease: c.label, slots, ran: [] }));
    }
    const kernel = c.compat ? `${c.compat.writer}→${c.compat.reader}` : c.label;
    const cdir = join('cells', cellDirName(kernel, c.scenario));
    await mkdir(join(r.dir, cdir, 'disks'), { recursive: true });
    await writeFile(join(r.dir, cdir, 'disks', 'data.img'), Buffer.alloc(512));
    const leftOut = guest !== undefined ? `--- ih: 10 bytes of the 1 scenario(s) before this one in the shared guest left out (${gdir}/console.log) ---\n` : '';
    await writeFile(join(r.dir, cdir, 'console.log'), `boot\n${leftOut}${c.scenario}\n`);
    await writeFile(join(r.dir, cdir, 'result.json'), JSON.stringify({ verdict: c.verdict, reason: c.verdict, ...(guest !== undefined ? { sharedGuest: { dir: gdir, position: 1 } } : {}) }));
    const rec: CellRecord = {
      id: `${kernel}/${c.scenario}`, kernel, kernelSpec: c.spec, scenario: c.scenario, verdict: c.verdict, reason: `${c.verdict} here`,
      durationMs: 1000, dir: cdir, kernelRelease: c.label, ...(guest !== undefined && o.recordGuest !== false ? { guest: `guests/${guest}` } : {}),
      ...(c.compat ? { gate: { role: 'compat', ...c.compat } } : {}),
    };
    await r.addCell(rec);
  }
  if (o.gate) recordGate(r.summary, judgeGate(r.summary, { base: { spec: '6.1', label: LABELS['6.1'] }, candidate: { spec: '6.12', label: LABELS['6.12'] } }, ['compat/integrity-crc32c-journal']));
  await finishRun(r, 'complete');
  return loadRun(r.dir);
}

/** 6 cells over two kernels, dealt to two shards so that each shard's base/candidate pairs are split. */
const MATRIX: CellPlan[] = [
  { spec: '6.1', label: LABELS['6.1']!, scenario: 'integrity/001', verdict: 'pass', shard: 1, guest: 1 },
  { spec: '6.1', label: LABELS['6.1']!, scenario: 'integrity/002', verdict: 'pass', shard: 1, guest: 1 },
  { spec: '6.1', label: LABELS['6.1']!, scenario: 'crypt/001', verdict: 'pass', shard: 2, guest: 1 },
  { spec: '6.12', label: LABELS['6.12']!, scenario: 'integrity/001', verdict: 'fail', shard: 2, guest: 1 },
  { spec: '6.12', label: LABELS['6.12']!, scenario: 'integrity/002', verdict: 'pass', shard: 2, guest: 2 },
  { spec: '6.12', label: LABELS['6.12']!, scenario: 'crypt/001', verdict: 'crash', shard: 1, guest: 1 },
];

/** What must not differ between a merged run and the unsharded one. */
function essence(s: Summary) {
  return {
    cells: s.cells.map((c) => ({ id: c.id, verdict: c.verdict, reason: c.reason, baseline: c.baseline, gate: c.gate })).sort((a, b) => a.id.localeCompare(b.id)),
    counts: s.counts, gate: s.gate, baseline: s.baseline && { ...s.baseline, dir: undefined }, exit: exitCodeForSummary(s),
    kernels: s.kernels.map((k) => k.spec), plan: { ...s.plan, shard: undefined },
  };
}

/** Every path the summary and the copied result.json files reference exists in the merged run. */
async function expectReferencesExist(out: string, s: Summary): Promise<void> {
  for (const k of s.kernels) {
    const kept = [k.buildLog, k.config, ...(k.patches ?? [])];
    expect(kept.every((f) => f !== undefined), 'build log, .config and patches travel with the merge').toBe(true);
    for (const f of kept) expect(existsSync(join(out, f!)), f).toBe(true);
  }
  for (const c of s.cells) {
    for (const r of c.runs ?? [c]) {
      expect(existsSync(join(out, r.dir, 'console.log')), r.dir).toBe(true);
      expect(existsSync(join(out, r.dir, 'disks')), `${r.dir}/disks`).toBe(false);
      if (r.guest === undefined) continue;
      expect(existsSync(join(out, r.guest, 'console.log')), r.guest).toBe(true);
      const guest = JSON.parse(await readFile(join(out, r.guest, 'guest.json'), 'utf8'));
      expect(guest.slots).toContain(c.id); // the guest the reference names is the one that ran the cell
      const result = JSON.parse(await readFile(join(out, r.dir, 'result.json'), 'utf8'));
      expect(result.sharedGuest.dir).toBe(join(out, r.guest));
      const consoleText = await readFile(join(out, r.dir, 'console.log'), 'utf8');
      expect(consoleText).toContain(`(${join(out, r.guest)}/console.log)`);
    }
  }
}

describe('merging shards of a --share-guest matrix', () => {
  it('gives the unsharded run: every cell once, same verdicts and counts, guests copied under free names and referenced', async () => {
    const whole = await writeRun(join(root, 'whole'), 'whole', MATRIX);
    const s1 = await writeRun(join(root, 'shards'), 's1', MATRIX, { shard: 1, total: 2 });
    const s2 = await writeRun(join(root, 'shards'), 's2', MATRIX, { shard: 2, total: 2 });
    expect(mergeWarnings([s1, s2])).toEqual([]);
    const out = await mergeRuns([s1, s2], join(root, 'merged'), ['merge']);
    const code = await finishRun(out, 'complete');
    const s = JSON.parse(await readFile(join(out.dir, 'summary.json'), 'utf8')) as Summary;
    expect(validate(loadSchema('summary'), s)).toEqual([]);
    expect(essence(s)).toEqual(essence(whole.summary));
    expect(code).toBe(whole.summary.exitCode);
    // both shards had guests/6.1.0-56-amd64-1 and guests/6.12.9-amd64-1; shard 2's get the next numbers
    const guestOf = (id: string) => s.cells.find((c) => c.id === id)!.guest;
    expect(guestOf('6.1.0-56-amd64/integrity/001')).toBe('guests/6.1.0-56-amd64-1');
    expect(guestOf('6.1.0-56-amd64/crypt/001')).toBe('guests/6.1.0-56-amd64-2');
    expect(guestOf('6.12.9-amd64/crypt/001')).toBe('guests/6.12.9-amd64-1');
    expect(guestOf('6.12.9-amd64/integrity/001')).toBe('guests/6.12.9-amd64-2');
    expect(guestOf('6.12.9-amd64/integrity/002')).toBe('guests/6.12.9-amd64-3');
    expect(await readFile(join(out.dir, 'guests/6.12.9-amd64-3/console.log'), 'utf8')).toBe('whole console of 6.12.9-amd64-2 in s2\n');
    await expectReferencesExist(out.dir, s);
  });

  it('finds the guests of summaries that do not record them from the cells\' result.json', async () => {
    const s1 = await writeRun(join(root, 'old'), 'o1', MATRIX, { shard: 1, total: 2, recordGuest: false });
    const s2 = await writeRun(join(root, 'old'), 'o2', MATRIX, { shard: 2, total: 2, recordGuest: false });
    const out = await mergeRuns([s1, s2], join(root, 'merged-old'), ['merge']);
    expect(out.summary.cells.filter((c) => c.guest !== undefined)).toHaveLength(MATRIX.length);
    expect(out.summary.cells.find((c) => c.id === '6.12.9-amd64/integrity/002')!.guest).toBe('guests/6.12.9-amd64-3');
    await expectReferencesExist(out.dir, out.summary);
  });

  it('judges a sharded gate as the unsharded one: the regression whose base cell ran in the other shard is found', async () => {
    const gateCells: CellPlan[] = [
      ...MATRIX,
      { spec: '6.12', label: LABELS['6.12']!, scenario: 'compat/integrity-crc32c-journal', verdict: 'pass', shard: 1, guest: 2, compat: { writer: 'base', reader: 'candidate' } },
      { spec: '6.1', label: LABELS['6.1']!, scenario: 'compat/integrity-crc32c-journal', verdict: 'error', shard: 2, guest: 2, compat: { writer: 'candidate', reader: 'base' } },
    ];
    const whole = await writeRun(join(root, 'gwhole'), 'gwhole', gateCells, { gate: true });
    const s1 = await writeRun(join(root, 'gshards'), 'g1', gateCells, { shard: 1, total: 2, gate: true });
    const s2 = await writeRun(join(root, 'gshards'), 'g2', gateCells, { shard: 2, total: 2, gate: true });
    // alone, no shard sees integrity/001 pass on base and fail on the candidate
    expect([s1.summary.gate!.regressions, s2.summary.gate!.regressions]).toEqual([0, 0]);
    expect(whole.summary.gate).toMatchObject({ regressions: 2, unjudged: 1, compared: 4 });
    const out = await mergeRuns([s1, s2], join(root, 'gmerged'), ['merge']);
    const code = await finishRun(out, 'complete');
    expect(essence(out.summary)).toEqual(essence(whole.summary));
    expect(code).toBe(1);
    expect(validate(loadSchema('summary'), JSON.parse(await readFile(join(out.dir, 'summary.json'), 'utf8')))).toEqual([]);
    await expectReferencesExist(out.dir, out.summary);
  });

  it('refuses to merge a gate run with a plain run or with another gate\'s run', async () => {
    const g = await writeRun(join(root, 'refuse'), 'g', MATRIX, { shard: 1, total: 2, gate: true });
    const plain = await writeRun(join(root, 'refuse'), 'p', MATRIX, { shard: 2, total: 2 });
    await expect(mergeRuns([g, plain], join(root, 'refused'), ['merge'])).rejects.toThrow(UsageError);
    await expect(mergeRuns([g, plain], join(root, 'refused'), ['merge'])).rejects.toThrow(/is not a gate run/);
    const other = structuredClone(g);
    other.summary.gate!.candidate.spec = 'src:6.12';
    await expect(mergeRuns([g, other], join(root, 'refused'), ['merge'])).rejects.toThrow(/merge runs of one gate only/);
  });

  it('compares with the shards\' common baseline as the unsharded run did; different baselines leave none, with a warning', async () => {
    const base = await writeRun(join(root, 'base'), 'base', MATRIX.map((c) => ({ ...c, verdict: 'pass' as const })));
    const whole = await writeRun(join(root, 'bwhole'), 'bwhole', MATRIX);
    recordBaseline(whole.summary, compareWithBaseline(whole.summary, base));
    const shards: LoadedRun[] = [];
    for (const i of [1, 2]) {
      const r = await writeRun(join(root, 'bshards'), `b${i}`, MATRIX, { shard: i, total: 2 });
      recordBaseline(r.summary, compareWithBaseline(r.summary, base));
      shards.push(r);
    }
    expect(mergeWarnings(shards)).toEqual([]);
    const out = await mergeRuns(shards, join(root, 'bmerged'), ['merge']);
    expect(essence(out.summary)).toEqual(essence(whole.summary));
    expect(out.summary.baseline).toMatchObject({ runId: 'base', regressions: 2 });

    delete shards[1]!.summary.baseline;
    expect(mergeWarnings(shards)).toEqual([expect.stringMatching(/different baselines \(base, none\)/)]);
    const none = await mergeRuns(shards, join(root, 'bmerged2'), ['merge']);
    expect(none.summary.baseline).toBeUndefined();
    expect(none.summary.cells.some((c) => c.baseline !== undefined)).toBe(false);
  });
});

describe('mergeWarnings', () => {
  it('names a missing shard of one kernel when each kernel\'s matrix was sharded apart (one CI job per kernel and shard)', async () => {
    const one = (kernel: string, index: number): LoadedRun => ({
      dir: `/r/${kernel}-${index}`,
      summary: { status: 'complete', plan: { kernels: [kernel], totalCells: 33, cells: 11, repeat: 1, retries: 0, shard: { index, total: 3 } }, cells: [] } as unknown as Summary,
    });
    const runs = [one('6.1', 1), one('6.1', 2), one('6.1', 3), one('6.12', 1), one('6.12', 3)];
    expect(mergeIncomplete(runs)).toEqual(['shard(s) 2/3 of --kernel 6.12 not among the merged runs']);
    expect(mergeIncomplete(runs.slice(0, 2))).toEqual(['shard(s) 3/3 not among the merged runs']);
  });
});

describe('freeName', () => {
  it('keeps a free name, counts a guest number up, and suffixes anything else with the run id', () => {
    const taken = new Set<string>();
    expect(freeName(taken, 'guests/k-1', 'r1', true)).toBe('guests/k-1');
    expect(freeName(taken, 'guests/k-2', 'r1', true)).toBe('guests/k-2');
    expect(freeName(taken, 'guests/k-1', 'r2', true)).toBe('guests/k-3');
    expect(freeName(taken, 'cells/k__crypt_001', 'r1')).toBe('cells/k__crypt_001');
    expect(freeName(taken, 'cells/k__crypt_001', 'r2')).toBe('cells/k__crypt_001@r2');
    expect(freeName(taken, 'cells/k__crypt_001', 'r2')).toBe('cells/k__crypt_001@r2-2');
  });
});
