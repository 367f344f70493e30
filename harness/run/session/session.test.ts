import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Guest } from '../../../vm/qemu/guest.ts';
import { GuestSession } from './cell.ts';

function session(seen: string[]): GuestSession {
  const guest = { mark: async (text: string) => { seen.push(text); } } as unknown as Guest;
  const s = new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-session-')), 'steps.jsonl'));
  s.ratelimitGate = async () => { seen.push('wait'); };
  return s;
}

describe('GuestSession.ratelimitGate', () => {
  it('runs once, at the first read that may fail, not at the steps before it', async () => {
    const seen: string[] = [];
    const s = session(seen);
    await s.begin(-1, 'setup');
    await s.begin(0, 'write');
    await s.begin(1, 'read');
    await s.readsMayFail();
    await s.begin(2, 'read');
    await s.readsMayFail();
    await s.begin(3, 'teardown');
    await s.end();
    expect(seen).toEqual(['ih: step -1 setup', 'ih: step 0 write', 'ih: step 1 read', 'wait', 'ih: step 2 read', 'ih: step 3 teardown']);
    expect(s.steps.map((x) => x.kind)).toEqual(['setup', 'write', 'read', 'read', 'teardown']);
    expect(s.steps.every((x) => typeof x.wallMs === 'number')).toBe(true);
  });

  it('never runs for a scenario whose reads all succeed', async () => {
    const seen: string[] = [];
    const s = session(seen);
    for (const [i, kind] of ['write', 'read', 'close', 'open', 'read'].entries()) await s.begin(i, kind);
    await s.end();
    expect(seen).not.toContain('wait');
  });

  it('runs before a crash or kill step begins: what those make the kernel log is not foreseen read by read', async () => {
    for (const kind of ['crash', 'kill']) {
      const seen: string[] = [];
      const s = session(seen);
      await s.begin(0, 'write');
      await s.begin(1, kind);
      expect(seen).toEqual(['ih: step 0 write', 'wait', `ih: step 1 ${kind}`]);
    }
  });
});
