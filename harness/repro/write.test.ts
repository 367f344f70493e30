import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Scenario } from '../scenario/load.ts';
import type { CellResult } from '../run/session/observations.ts';
import { writeRepro } from './write.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-repro-write-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const scenario = { id: 'integrity/001-x', stepTimeout: 60, disks: [{ name: 'data', size: 1 << 20 }] } as unknown as Scenario;

function cell(name: string, steps: CellResult['steps']) {
  const dir = join(root, name);
  mkdirSync(join(dir, 'disks'), { recursive: true });
  const payload = Buffer.alloc(1 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
  writeFileSync(join(dir, 'disks', 'payload.img'), payload);
  const result: CellResult = { verdict: 'fail', reason: 'x', durationMs: 1, steps, disagreements: [] };
  return { spec: { dir, id: `k/${name}`, scenario }, result, payload };
}

describe('writeRepro', () => {
  it('puts the script, its helpers, the expectations and the payload the writes copy in <cell>/repro', async () => {
    const { spec, result, payload } = cell('ok', [
      { index: -1, kind: 'setup', durationMs: 0, commands: [], disks: { data: '/dev/vdb', payload: '/dev/vdc', out: '/dev/vdd' } },
      {
        index: 0, kind: 'write', durationMs: 0, expect: [{ command: 0, op: 'write', offset: 0, length: 8192, bs: 4096, errno: 0 }],
        commands: [{ argv: ['ih-io', 'copy', '--src', '/dev/vdc', '--src-offset', '4096', '--dst', '/dev/mapper/ih-int', '--length', '8192'], exitCode: 0, durationMs: 1 }],
      },
    ]);
    await writeRepro(spec, result);
    const dir = join(spec.dir, 'repro');
    for (const f of ['repro.sh', 'lib.sh', 'check.awk', 'io.c', 'payload.bin', 'expect-0-0.txt']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(statSync(join(dir, 'repro.sh')).mode & 0o111).not.toBe(0);
    expect(readFileSync(join(dir, 'payload.bin'))).toEqual(payload.subarray(0, 4096 + 8192));
    expect(readFileSync(join(dir, 'io.c'), 'utf8')).toMatch(/ih-io: the guest's only O_DIRECT data mover/);
  });

  it('says why instead, when the cell cannot be replayed', async () => {
    const { spec, result } = cell('crash-step', [
      { index: -1, kind: 'setup', durationMs: 0, commands: [], disks: { data: '/dev/vdb' } },
      { index: 0, kind: 'crash', durationMs: 0, commands: [] },
    ]);
    await writeRepro(spec, result);
    expect(readFileSync(join(spec.dir, 'repro', 'NOT-GENERATED.txt'), 'utf8')).toMatch(/^No reproducer for k\/crash-step: step 0 is a crash step/);
    expect(existsSync(join(spec.dir, 'repro', 'repro.sh'))).toBe(false);
  });
});
