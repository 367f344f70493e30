/**
 * The real `ih-io race` on a host file: its report parses, the model's payload twin (race-payload.ts) is
 * byte for byte what the tool wrote, and the judge finds nothing wrong with a race the host kernel ran.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../../vm/agent/build.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { parseRaceReport } from '../../../vm/agent/race-report.ts';
import { judgeRace } from './race.ts';
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
});
