import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../vm/cache.ts';
import { discoverScenarios } from './discover.ts';
import { loadScenario } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-crash-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = `description: a crash scenario used by the loader's tests
disks: [{ name: data, size: 16MiB }, { name: log, size: 64MiB }]
stack: { type: integrity, disk: data, interleaveSectors: 2048 }
`;

function load(body: string) {
  const f = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, HEAD + body);
  return loadScenario(f, dir);
}

describe('crash steps in scenario files', () => {
  it('loads a crash step with defaults filled in', async () => {
    const s = await load('steps:\n  - crash: { log: log, workload: [{ write: { offset: 0, length: 8KiB, fua: true } }, flush] }\n');
    const step = s.steps[0] as { crash: { torn: number; reordered: number; workload: unknown[] } };
    expect(step.crash.torn).toBe(16);
    expect(step.crash.reordered).toBe(0);
    expect(step.crash.workload).toEqual([{ write: { offset: 0, length: 8192, bs: 'block', fua: true, jobs: 1 } }, 'flush']);
    expect(s.stack.type === 'integrity' ? s.stack.interleaveSectors : undefined).toBe(2048);
  });

  it('names the field for every mistake', async () => {
    await expect(load('steps:\n  - crash: { log: nolog, workload: [flush] }\n')).rejects.toThrow(/steps\[0\]\.crash\.log: 'nolog' is not one of the declared disks[\s\S]*steps\[0\]\.crash\.workload: has no write/);
    await expect(load('steps:\n  - crash: { log: data, workload: [{ write: { offset: 0, length: 4KiB } }] }\n')).rejects.toThrow(/crash\.log: the log cannot go on the stack's own disk/);
    await expect(load('steps:\n  - crash: { log: log, workload: [{ write: { offset: 100, length: 4KiB, bs: 3KiB } }] }\n  - status\n'))
      .rejects.toThrow(/must be the last step[\s\S]*workload\[0\]\.write\.offset: 100 is not a multiple[\s\S]*workload\[0\]\.write\.length: 4096 is not a multiple of bs 3072/);
    await expect(load('steps:\n  - crash: { log: log, workload: [{ write: { offset: 0, length: 4KiB, sync: true } }] }\n')).rejects.toThrow(/workload/);
    await expect(load('steps:\n  - close\n  - crash: { log: log, workload: [{ write: { offset: 0, length: 4KiB } }] }\n')).rejects.toThrow(/'crash' needs the stack open/);
  });

  it('rejects an interleave that is not a power of two', async () => {
    const f = join(dir, 'bad-interleave.yaml');
    writeFileSync(f, HEAD.replace('2048', '3000') + 'steps: [status]\n');
    await expect(loadScenario(f, dir)).rejects.toThrow(/stack\.interleaveSectors: expected a power of two/);
  });

  it('loads a kill step, and names the field for its mistakes', async () => {
    const s = await load('steps:\n  - kill: { seed: 7, workload: [{ write: { offset: 0, length: 64KiB, bs: 4KiB, jobs: 4 } }, flush] }\n');
    expect(s.steps[0]).toEqual({ kill: { seed: 7, minDelay: 0, maxDelay: 2000, workload: [{ write: { offset: 0, length: 65536, bs: 4096, fua: false, jobs: 4 } }, 'flush'] } });
    await expect(load('steps:\n  - kill: { workload: [{ write: { offset: 0, length: 4KiB } }] }\n')).rejects.toThrow(/steps\[0\]\.kill\.seed/);
    await expect(load('steps:\n  - kill: { seed: 1, minDelay: 500, maxDelay: 500, workload: [{ write: { offset: 100, length: 4KiB } }] }\n  - status\n'))
      .rejects.toThrow(/kill step must be the last step[\s\S]*kill\.maxDelay: 500 ms is not above minDelay 500 ms[\s\S]*workload\[0\]\.write\.offset: 100 is not a multiple/);
    await expect(load('steps:\n  - close\n  - kill: { seed: 1, workload: [flush] }\n')).rejects.toThrow(/'kill' needs the stack open[\s\S]*kill\.workload: has no write/);
  });

  it('the shipped crash scenarios load: every mode of dm-integrity, dm-crypt AEAD in J and D, LUKS2, and kills', async () => {
    const s = (await discoverScenarios(join(repoRoot(), 'scenarios'), ['crash/*'])).scenarios;
    const kind = (x: (typeof s)[number]) => `${x.stack.type}/${'mode' in x.stack ? x.stack.mode : 'journal'}/${x.steps.some((st) => typeof st === 'object' && 'kill' in st) ? 'kill' : 'crash'}`;
    expect(s.map(kind).sort()).toEqual([
      'crypt-aead/direct/crash', 'crypt-aead/direct/kill', 'crypt-aead/journal/crash', 'crypt-aead/journal/kill',
      'integrity/bitmap/crash', 'integrity/direct/crash', 'integrity/journal/crash', 'integrity/journal/kill', 'luks2/journal/crash',
    ]);
  });
});
