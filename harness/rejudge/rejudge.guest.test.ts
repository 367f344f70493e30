/**
 * `npm run rejudge` on a real run: a run of Debian 6.1 on integrity, dm-crypt AEAD and LUKS2 scenarios is
 * judged again by the current model from its observations alone and nothing changes; the same run with one
 * observation doctored (a block's bytes, a read's errno) gets the disagreement the model must find. The same
 * for a crash-consistency scenario, whose crash points are replayed from what the run recorded at each.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import type { Summary } from '../results.ts';
import type { Observation } from '../run/session/observations.ts';
import type { RunRejudgement } from './rejudge.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-rejudge-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cli = (script: string, args: string[]) =>
  execa('node', ['--import', 'tsx', join(repoRoot(), 'harness/cli', script), ...args], { cwd: repoRoot(), reject: false, all: true });

interface Doctored { file: string; records: string[] }

function observationsOf(run: string, scenario: string): Doctored {
  const s = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Summary;
  const cell = s.cells.find((c) => c.scenario === scenario)!;
  const file = join(run, cell.dir, 'observations.jsonl');
  return { file, records: readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') };
}

const save = (d: Doctored) => writeFileSync(d.file, `${d.records.join('\n')}\n`);

describe('npm run rejudge', () => {
  let run = '';

  it('judges a stored run of the model-judged stacks the same, from observations alone', { timeout: 1_800_000 }, async () => {
    const results = join(root, 'run');
    const m = await cli('matrix.ts', ['--kernel', '6.1', '--scenario', 'integrity/001-*', '--scenario', 'integrity/003-*', '--scenario', 'crypt/002-*',
      '--scenario', 'luks/001-*', '--jobs', '2', '--keep-disks', '--results', results]);
    expect(m.exitCode, m.all).toBe(0);
    run = join(results, 'latest');
    const r = await cli('rejudge.ts', [run]);
    expect(r.stdout, r.all).toMatch(/^4 cell\(s\): 4 judged the same, 0 changed, 0 with executions not replayed; exit 0$/m);
    expect(r.stdout).not.toMatch(/^(CHANGED|KEPT|NOTE)/m);
    expect(r.exitCode).toBe(0);
  });

  it('finds the data mismatch in a doctored read-back block, and the silent acceptance in a doctored errno', { timeout: 600_000 }, async () => {
    expect(run, 'the first test made a run').not.toBe('');
    const doctored = join(root, 'doctored');
    cpSync(run, doctored, { recursive: true, dereference: true });

    // a block that read back: its digest no longer that of the bytes the model expects
    const obs = observationsOf(doctored, 'integrity/001-crc32c-journal-corrupt');
    const header = JSON.parse(obs.records[0]!) as { scenario: { steps: Array<string | { read?: { offset: number } }> } };
    const at = obs.records.findIndex((l) => l.startsWith('{"t":"blocks"'));
    const blocks = JSON.parse(obs.records[at]!) as Extract<Observation, { t: 'blocks' }>;
    const k = blocks.blocks.findIndex((b) => b.hex === undefined);
    blocks.blocks[k] = { sha256: '0'.repeat(32) };
    obs.records[at] = JSON.stringify(blocks);
    const step = header.scenario.steps[blocks.step] as { read: { offset: number } };
    const block = step.read.offset / blocks.blockSize + k;

    // a read the kernel failed (the corrupted block): ih-io's report now says it succeeded
    const failedAt = obs.records.findIndex((l) => l.startsWith('{"t":"cmd"') && l.includes('"ih-io","read"') && l.includes('\\"ok\\":false'));
    const cmd = JSON.parse(obs.records[failedAt]!) as Extract<Observation, { t: 'cmd' }>;
    cmd.stdout = cmd.stdout.split('\n').map((l) => {
      if (!l.startsWith('{')) return l;
      const e = JSON.parse(l) as { op: string; ok: boolean; errno: number; error?: string };
      if (e.op !== 'read' || e.ok) return l;
      return JSON.stringify({ ...e, ok: true, errno: 0, error: undefined });
    }).join('\n');
    obs.records[failedAt] = JSON.stringify(cmd);
    save(obs);

    const r = await cli('rejudge.ts', [doctored, '--json']);
    expect(r.exitCode, r.all).toBe(1);
    const out = JSON.parse(r.stdout) as Pick<RunRejudgement, 'cells' | 'exitCode'>;
    const cell = out.cells.find((c) => c.id.endsWith('integrity/001-crc32c-journal-corrupt'))!;
    expect(cell).toMatchObject({ before: 'pass', after: 'fail' });
    const kinds = cell.executions[0]!.after!.disagreements.map((d) => [d.step, d.kind, d.block]);
    expect(kinds).toContainEqual([blocks.step, 'data-mismatch', block]);
    expect(kinds).toContainEqual([cmd.step, 'silent-acceptance', expect.any(Number)]);
    // the other cells' observations were not touched: judged as before
    expect(out.cells.filter((c) => c !== cell).map((c) => c.after)).toEqual(['pass', 'pass', 'pass']);
    // the stored run itself is unchanged
    expect(readFileSync(join(doctored, 'summary.json'), 'utf8')).toBe(readFileSync(join(run, 'summary.json'), 'utf8'));
  });

  it('finds what the pure judges of the kernel log, the tables and the audit must in doctored dmesg, dmsetup table and kept image', { timeout: 600_000 }, async () => {
    expect(run, 'the first test made a run').not.toBe('');
    const doctored = join(root, 'doctored-checks');
    cpSync(run, doctored, { recursive: true, dereference: true });

    // dmesg: a checksum line in step 0 (a write: no read there had to fail)
    const integrity = observationsOf(doctored, 'integrity/001-crc32c-journal-corrupt');
    const dmesgAt = integrity.records.findIndex((l) => l.startsWith('{"t":"cmd"') && l.includes('"argv":["dmesg"]'));
    const dmesg = JSON.parse(integrity.records[dmesgAt]!) as Extract<Observation, { t: 'cmd' }>;
    expect(dmesg.stdout).toMatch(/ih: step 1 /);
    dmesg.stdout = dmesg.stdout.replace(/^.*ih: step 1 .*$/m, (l) => `[   99.0] device-mapper: integrity: dm-0: Checksum failed at sector 0x7\n${l}`);
    integrity.records[dmesgAt] = JSON.stringify(dmesg);
    save(integrity);

    // dmsetup table: dm-integrity beneath LUKS2 in bitmap mode, which cryptsetup never asks for
    const luks = observationsOf(doctored, 'luks/001-gcm-aead-wiped');
    const tableAt = luks.records.findIndex((l) => l.startsWith('{"t":"cmd"') && l.includes('"argv":["dmsetup","table"') && l.includes(' integrity '));
    const table = JSON.parse(luks.records[tableAt]!) as Extract<Observation, { t: 'cmd' }>;
    table.stdout = table.stdout.replace(/ J /, ' B ');
    luks.records[tableAt] = JSON.stringify(table);
    save(luks);

    // the kept image of the crypt cell: one byte flipped in its data area (2 MiB in, past superblock and journal)
    const crypt = JSON.parse(readFileSync(join(doctored, 'summary.json'), 'utf8')) as Summary;
    const image = join(doctored, crypt.cells.find((c) => c.scenario === 'crypt/002-gcm-corrupt-data-tag-iv')!.dir, 'disks', 'data.img');
    const bytes = readFileSync(image);
    bytes[2 * 1024 * 1024 + 100] = bytes[2 * 1024 * 1024 + 100]! ^ 0xff;
    writeFileSync(image, bytes);

    const r = await cli('rejudge.ts', [doctored, '--json']);
    expect(r.exitCode, r.all).toBe(1);
    const out = JSON.parse(r.stdout) as Pick<RunRejudgement, 'cells' | 'exitCode'>;
    const kinds = (scenario: string) => {
      const cell = out.cells.find((c) => c.id.endsWith(scenario))!;
      expect(cell, scenario).toMatchObject({ before: 'pass', after: 'fail' });
      return cell.executions[0]!.after!.disagreements.map((d) => [d.step, d.kind]);
    };
    expect(kinds('integrity/001-crc32c-journal-corrupt')).toEqual([[0, 'log-unexpected']]);
    expect(kinds('luks/001-gcm-aead-wiped')).toEqual([[-1, 'luks2-table']]);
    expect(kinds('crypt/002-gcm-corrupt-data-tag-iv').map(([, kind]) => String(kind).replace(/-.*$/, ''))).toEqual(['audit']);
    expect(out.cells.find((c) => c.id.endsWith('integrity/003-hmac-direct-swap'))!.after).toBe('pass');
  });
});

describe('npm run rejudge on a crash-consistency run', () => {
  let run = '';

  it('judges every crash point of a stored crash run the same, and says the audits after close are the run\'s', { timeout: 1_800_000 }, async () => {
    const results = join(root, 'crash-run');
    const m = await cli('matrix.ts', ['--kernel', '6.1', '--scenario', 'crash/001-*', '--jobs', '1', '--results', results]);
    expect(m.exitCode, m.all).toBe(0);
    run = join(results, 'latest');
    const r = await cli('rejudge.ts', [run]);
    expect(r.stdout, r.all).toMatch(/^1 cell\(s\): 1 judged the same, 0 changed, 0 with executions not replayed; exit 0$/m);
    expect(r.stdout).toMatch(/^NOTE .*crash\/001-journal-crc32c: the raw-disk audits after close at the crash points are the run's/m);
    expect(r.stdout).not.toMatch(/^(CHANGED|KEPT)/m);
    expect(r.exitCode).toBe(0);
  });

  it('finds foreign data in a doctored crash-point block and an integrity error in a doctored errno', { timeout: 600_000 }, async () => {
    expect(run, 'the first test made a run').not.toBe('');
    const doctored = join(root, 'crash-doctored');
    cpSync(run, doctored, { recursive: true, dereference: true });
    const obs = observationsOf(doctored, 'crash/001-journal-crc32c');
    const log = JSON.parse(obs.records.find((l) => l.startsWith('{"t":"crash-log"'))!) as Extract<Observation, { t: 'crash-log' }>;
    expect(log.points.length).toBeGreaterThan(10);
    const readBacks = obs.records.flatMap((l, i) => (l.startsWith('{"t":"crash-readback"') && JSON.parse(l).step === log.step ? [i] : []));
    expect(readBacks.length).toBe(log.points.length);

    // the first block of the third point's read-back: now bytes of no version of it
    const at = readBacks[2]!;
    const readBack = JSON.parse(obs.records[at]!) as Extract<Observation, { t: 'crash-readback' }>;
    expect(readBack.other).toEqual([]);
    const [block, count, version] = readBack.runs[0]!;
    readBack.runs[0] = [block + 1, count - 1, version];
    readBack.other.push({ block, sha256: '0'.repeat(32) });
    obs.records[at] = JSON.stringify(readBack);

    // a read of one of the last points: ih-io now reports EILSEQ on its first block, which journal mode never allows
    const reads = obs.records.flatMap((l, i) => (l.startsWith('{"t":"cmd"') && l.includes('"ih-io","read"') && JSON.parse(l).step === log.step ? [i] : []));
    const failedAt = reads[reads.length - 3]!;
    const cmd = JSON.parse(obs.records[failedAt]!) as Extract<Observation, { t: 'cmd' }>;
    const off = Number(cmd.argv[cmd.argv.indexOf('--offset') + 1]);
    cmd.stdout = `${cmd.stdout}${JSON.stringify({ op: 'block', off, len: readBack.blockSize, ok: false, errno: 84, error: 'EILSEQ', us: 1 })}\n`;
    obs.records[failedAt] = JSON.stringify(cmd);
    save(obs);

    const r = await cli('rejudge.ts', [doctored, '--json']);
    expect(r.exitCode, r.all).toBe(1);
    const out = JSON.parse(r.stdout) as Pick<RunRejudgement, 'cells' | 'exitCode'>;
    expect(out.cells[0]).toMatchObject({ before: 'pass', after: 'fail' });
    const found = out.cells[0]!.executions[0]!.after!.disagreements;
    expect(found.map((d) => [d.step, d.kind, d.block, d.found])).toEqual([
      [log.step, 'foreign-data', block, 'bytes of no write to this block'],
      [log.step, 'integrity-error', off / readBack.blockSize, 'errno 84'],
    ]);
    expect(found.every((d) => /at crash point \d+ \(/.test(d.expected))).toBe(true);
    expect(readFileSync(join(doctored, 'summary.json'), 'utf8')).toBe(readFileSync(join(run, 'summary.json'), 'utf8'));
  });
});
