/**
 * The real `ih-io unstable` on a host file: its report parses, the buffer changed while writes were in flight,
 * and the judge accepts what the host's own kernel wrote (a plain file keeps no tag, so it is judged as a
 * stack whose data and tag cannot disagree); the file holds what the judge adopted.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from '../../../vm/agent/build.ts';
import { ioArgv } from '../../../vm/agent/io-argv.ts';
import { parseUnstableReport } from '../../../vm/agent/unstable-report.ts';
import { judgeUnstable } from './unstable.ts';

describe('ih-io unstable on a host file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ih-unstable-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes changing buffers and reports bytes the judge names', async () => {
    const tools = await buildGuestTools(join(dir, 'cache'));
    const img = join(dir, 'img');
    writeFileSync(img, Buffer.alloc(128 * 1024));
    const offset = 16 * 1024;
    const length = 32 * 1024;
    const argv = ioArgv({ cmd: 'unstable', dev: img, offset, length, block: 4096, writes: 24, writeBlocks: 2, tag: 9 });
    const res = await execa(tools.io, argv.slice(1), { reject: false, encoding: 'buffer' });
    expect(res.exitCode, res.stderr.toString()).toBe(0);
    const rep = parseUnstableReport(res.stdout);
    expect(rep.summary).toMatchObject({ ok: true, writes: 24 });
    expect(rep.writes).toHaveLength(24);
    expect(rep.reads).toHaveLength(48);
    const j = judgeUnstable({ stack: 'journal', tag: 9, sectorsPerBlock: 8, writes: rep.writes, reads: rep.reads });
    expect(j.disagreements).toEqual([]);
    expect(j.mutatedWrites).toBe(rep.summary!.mutated);
    expect(j.mutatedWrites).toBeGreaterThan(0);
    expect(j.blocks.size).toBe(8);
    const after = readFileSync(img);
    for (const [block, o] of j.blocks) {
      expect(o.kind).toBe('data');
      if (o.kind === 'data') expect(after.subarray(block * 4096, (block + 1) * 4096).equals(o.data), `block ${block}`).toBe(true);
    }
  }, 120_000);
});
