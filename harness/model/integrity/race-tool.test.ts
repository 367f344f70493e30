/**
 * The real `ih-io race` on a host file: its report parses, the model's payload twin (race-payload.ts) is
 * byte for byte what the tool wrote, and the judge finds nothing wrong with a race the host kernel ran.
 */
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../../vm/agent/build.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { parseRaceReport } from '../../../vm/agent/race-report.ts';
import { judgeRace } from './race.ts';
import { judgeChurnedRace } from './race-churn.ts';
import { raceWriteData, sectorHash } from './race-payload.ts';

describe('ih-io race on a host file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ih-race-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    { engine: 'aio', qd: 4 },
    { engine: 'sync', qd: 1 },
  ] as const)('$engine: writes what race-payload.ts says and reports what the judge accepts', async ({ engine, qd }) => {
    const tools = await buildGuestTools(join(dir, 'cache'));
    const img = join(dir, `img-${engine}`);
    const before = Buffer.alloc(128 * 1024);
    for (let i = 0; i < before.length; i += 512) before.fill(i / 512, i, i + 512);
    writeFileSync(img, before);
    const offset = 16 * 1024;
    const length = 32 * 1024;
    const argv = ioArgv({ cmd: 'race', dev: img, offset, length, block: 512, procs: 3, ops: 60, qd, maxBlocks: 8, writePercent: 50, seed: 3, tag: 21 });
    const res = await execa(tools.io, argv.slice(1), { reject: false, encoding: 'buffer' });
    expect(res.exitCode).toBe(0);
    const rep = parseRaceReport(res.stdout);
    expect(rep.summary).toMatchObject({ ok: true, engine, procs: 3, ops: 60, qd, died: 0 });
    expect(rep.writes.length + rep.reads.length).toBe(180);
    const first = offset / 512;
    const preHashes = Array.from({ length: length / 512 }, (_, i) => sectorHash(before.subarray(offset + i * 512, offset + (i + 1) * 512)));
    const j = judgeRace({ firstSector: first, sectors: length / 512, sectorsPerBlock: 1, preHashes, obs: rep });
    expect(j.disagreements).toEqual([]);
    expect(j.final).toBeDefined();
    const after = readFileSync(img);
    j.final!.forEach((v, i) => {
      const want = v.kind === 'write' ? raceWriteData(21, v.writer, v.seq, first + i, 1) : before.subarray(offset + i * 512, offset + (i + 1) * 512);
      expect(after.subarray(offset + i * 512, offset + (i + 1) * 512).equals(want), `sector ${first + i} (${JSON.stringify(v)})`).toBe(true);
    });
    expect(j.final!.some((v) => v.kind === 'write')).toBe(true);
  }, 120_000);

  it('runs the churn\'s dmsetup commands while the racers run, in rounds, each timed and with its exit status', async () => {
    const tools = await buildGuestTools(join(dir, 'cache'));
    // a dmsetup that logs its arguments and fails the second resume: the tool must report, not judge
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const log = join(dir, 'dmsetup.log');
    writeFileSync(join(bin, 'dmsetup'), `#!/bin/sh\necho "$*" >> ${log}\nsleep 0.01\nif [ "$1" = resume ] && [ "$(grep -c ^resume ${log})" = 2 ]; then exit 1; fi\n`);
    chmodSync(join(bin, 'dmsetup'), 0o755);
    const img = join(dir, 'img-churn');
    writeFileSync(img, Buffer.alloc(64 * 1024, 7));
    const argv = ioArgv({
      cmd: 'race', dev: img, offset: 0, length: 32 * 1024, block: 512, procs: 2, ops: 1500, qd: 4, maxBlocks: 8, writePercent: 50, seed: 5, tag: 9,
      churn: { dm: 'ih-test', tables: ['0 8 linear 7:0 0', '0 8 linear 7:0 8'], cycles: [{ flags: 'default', table: 1 }, { flags: 'noflush,nolockfs' }], holdUs: 5000, gapUs: 5000 },
    });
    const res = await execa(tools.io, argv.slice(1), { reject: false, encoding: 'buffer', env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(res.exitCode).toBe(1);
    const rep = parseRaceReport(res.stdout);
    expect(rep.summary).toMatchObject({ ok: false, died: 0 });
    const rounds = Math.max(...rep.dm.map((c) => c.round)) + 1;
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(rep.dm.slice(0, 5).map((c) => [c.round, c.cmd, c.flags, c.exit])).toEqual([
      [0, 'suspend', '', 0], [0, 'reload', 'table1', 0], [0, 'resume', '', 0], [1, 'suspend', 'noflush,nolockfs', 0], [1, 'resume', '', 1],
    ]);
    expect(readFileSync(log, 'utf8').split('\n').slice(0, 5)).toEqual([
      'suspend ih-test', 'reload ih-test --table 0 8 linear 7:0 8', 'resume ih-test', 'suspend --noflush --nolockfs ih-test', 'resume ih-test',
    ]);
    // each round's probes (writer procs+1): a write and a read submitted after the suspend returned
    const probes = [...rep.writes, ...rep.reads].filter((x) => x.writer === 3);
    expect(probes).toHaveLength(2 * rounds);
    expect(rep.writes.filter((x) => x.writer === 3).map((x) => x.seq)).toEqual(Array.from({ length: rounds }, (_, k) => 2 * k));
    // a file is never suspended: the probes complete before the resume begins, which the model calls a leak
    const preHashes = Array.from({ length: 64 }, () => sectorHash(Buffer.alloc(512, 7)));
    const j = judgeChurnedRace({ firstSector: 0, sectors: 64, sectorsPerBlock: 1, preHashes, obs: rep }, { cycles: [{ reload: true }, { reload: false }] });
    expect(new Set(j.disagreements.map((d) => d.kind))).toEqual(new Set(['race-dm-failed', 'race-suspend-leak']));
    expect(j.disagreements.filter((d) => d.kind === 'race-dm-failed')).toHaveLength(1);
    expect(j.churn!.held).toBeGreaterThanOrEqual(2 * rounds);
    expect(rep.dm.at(-1)!.t1).toBeLessThan(rep.final!.t0);
  }, 120_000);
});
