import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Guest } from '../../vm/qemu/guest.ts';
import { GuestSession } from './cell.ts';

describe('GuestSession.beforeSteps', () => {
  it('runs once, after the setup and before the first step marker reaches the guest', async () => {
    const seen: string[] = [];
    const guest = { mark: async (text: string) => { seen.push(text); } } as unknown as Guest;
    const s = new GuestSession(guest, 1000, join(mkdtempSync(join(tmpdir(), 'ih-session-')), 'steps.jsonl'));
    s.beforeSteps = async () => { seen.push('wait'); };
    await s.begin(-1, 'setup');
    await s.begin(0, 'write');
    await s.begin(1, 'read');
    await s.begin(2, 'teardown');
    await s.end();
    expect(seen).toEqual(['ih: step -1 setup', 'wait', 'ih: step 0 write', 'ih: step 1 read', 'ih: step 2 teardown']);
    expect(s.steps.map((x) => x.kind)).toEqual(['setup', 'write', 'read', 'teardown']);
    expect(s.steps.every((x) => typeof x.wallMs === 'number')).toBe(true);
  });
});
