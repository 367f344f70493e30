import { describe, expect, it } from 'vitest';
import { leftovers, parseGuestState, ratelimitWaitMs } from './guest-state.ts';

/** What the state script prints in a guest just booted (the shell is pid 80, its cat pid 81). */
function output(over: { dm?: string; mapper?: string; procs?: string[]; keys?: string; tmp?: string; uptime?: string; dmesg?: string } = {}): string {
  return [
    '== self 80',
    '== dm', over.dm ?? 'No devices found',
    '== mapper', over.mapper ?? 'control',
    '== keys', over.keys ?? '',
    '== mounts', 'proc /proc proc rw 0 0', 'tmpfs /tmp tmpfs rw 0 0',
    '== procs',
    '1 (ih-agent) S 0 1 1 0 -1 4194560 0 0',
    '2 (kthreadd) S 0 0 0 0 -1 2129984 0 0',
    '37 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0',
    '80 (sh) S 1 1 1 0 -1 4194560 0 0',
    '81 (cat) R 80 1 1 0 -1 4194304 0 0',
    ...(over.procs ?? []),
    '== tmp', over.tmp ?? '',
    '== uptime', over.uptime ?? '12.50 10.00',
    '== dmesg', over.dmesg ?? '[    1.000000] Linux version 6.1',
    '== end',
  ].join('\n');
}

describe('guest state between scenarios', () => {
  const base = parseGuestState(output());

  it('reads a clean guest as clean: no dm devices, only the control node, no user process but the agent', () => {
    expect(base).toMatchObject({ dm: [], mapper: [], procs: [], tmp: [], uptime: 12.5 });
    expect(base.dmesg).toContain('Linux version');
    expect(leftovers(base, parseGuestState(output()))).toEqual([]);
  });

  it('names every kind of leftover', () => {
    const now = parseGuestState(output({
      dm: 'ih-int\t(254:0)', mapper: 'control  ih-int', procs: ['90 (ih-io) D 1 1 1 0 -1 4194304 0 0'],
      keys: '1a2b3c4d I--Q---     1 perm 3f010000     0     0 logon     cryptsetup:abc-d0: 64', tmp: 'ih-integrity.key',
    }));
    const left = leftovers(base, now);
    expect(left).toHaveLength(5);
    expect(left.join('\n')).toMatch(/device-mapper devices left: ih-int/);
    expect(left.join('\n')).toMatch(/\/dev\/mapper nodes left: ih-int/);
    expect(left.join('\n')).toMatch(/processes left: 90 ih-io/);
    expect(left.join('\n')).toMatch(/keys left: .*cryptsetup:abc-d0/);
    expect(left.join('\n')).toMatch(/\/tmp could not be emptied/);
  });

  it('refuses output that stops before its end', () => {
    expect(() => parseGuestState(output().split('== tmp')[0]!)).toThrow(/lacks its 'tmp' section/);
  });

  it('keeps a process name with spaces and parentheses whole', () => {
    const now = parseGuestState(output({ procs: ['91 (a (b) c) S 1 1 1 0 -1 4194304 0 0'] }));
    expect(now.procs).toEqual(['91 a (b) c']);
  });
});

describe('ratelimitWaitMs', () => {
  const dm = '[   10.000000] device-mapper: integrity: dm-0: Checksum failed at sector 0x3\n[   11.000000] device-mapper: integrity: dm-0: Checksum failed at sector 0x8';

  it('waits until 5 s (and a margin) after the last device-mapper line', () => {
    expect(ratelimitWaitMs(dm, 12.5)).toBe(4000);
    expect(ratelimitWaitMs(dm, 20)).toBe(0);
  });

  it('does not wait when the scenario made dm say nothing', () => {
    expect(ratelimitWaitMs('[    3.0] ih: step 1 write\n', 4)).toBe(0);
  });

  it('waits the whole interval when the guest clock could not be read', () => {
    expect(ratelimitWaitMs(dm, Number.NaN)).toBe(5500);
  });
});
