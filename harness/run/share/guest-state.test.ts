import { describe, expect, it } from 'vitest';
import { leftovers, logClassOf, parseGuestState, ratelimitCarry, type LogClass } from './guest-state.ts';

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

describe('ratelimitCarry', () => {
  const line = (t: string, text: string) => `[${t.padStart(12)}] ${text}`;
  const sum = (t: string) => line(t, 'device-mapper: integrity: dm-0: Checksum failed at sector 0x3');
  const aead = (t: string) => line(t, 'device-mapper: crypt: dm-1: INTEGRITY AEAD ERROR, sector 8');
  const mark = (t: string) => line(t, 'ih: state check');
  const carry = (lines: string[], uptime = 99, cls: LogClass = 'checksum') => ratelimitCarry({ dmesg: lines.join('\n'), uptime }, cls);

  it('waits until 5 s (and a margin) after the last judged line, by the kernel clock of the state check', () => {
    expect(carry([sum('10.000000'), sum('11.000000'), mark('12.500000')])).toEqual({ waitMs: 3750, lines: 2, burstUsed: false });
    expect(carry([aead('10.000000'), mark('12.000000')], 99, 'aead').waitMs).toBe(3250);
    expect(carry([sum('10.000000'), mark('20.000000')]).waitMs).toBe(0);
  });

  it('counts each class apart: a line of one never holds back a line of the other', () => {
    const both = [sum('10.000000'), aead('11.000000'), aead('11.500000'), mark('12.000000')];
    expect(carry(both, 99, 'checksum')).toEqual({ waitMs: 3250, lines: 1, burstUsed: false });
    expect(carry(both, 99, 'aead')).toEqual({ waitMs: 4750, lines: 2, burstUsed: false });
    expect(carry([aead('11.000000'), mark('12.000000')], 99, 'checksum')).toEqual({ waitMs: 0, lines: 0, burstUsed: false });
  });

  it('maps a stack to the class of lines its cells judge', () => {
    expect(logClassOf('integrity')).toBe('checksum');
    expect(logClassOf('crypt-aead')).toBe('aead');
    expect(logClassOf('luks2')).toBe('aead');
  });

  it('falls back to /proc/uptime without the mark, and to the whole interval without any clock', () => {
    expect(carry([sum('10.000000')], 12.5).waitMs).toBe(2750);
    expect(carry([sum('10.000000')], Number.NaN).waitMs).toBe(5250);
  });

  it('does not wait for lines that are not ratelimited or not counted', () => {
    expect(carry([line('3.0', 'ih: step 1 write'), line('3.1', 'device-mapper: table: 254:0: integrity: Invalid argument count'),
      line('3.2', 'device-mapper: integrity: Error on journal commit id: -5'), mark('4.0')])).toEqual({ waitMs: 0, lines: 0, burstUsed: false });
  });

  it('a whole burst of lines may hold back even a line of the next setup', () => {
    const ten = Array.from({ length: 10 }, (_, i) => sum(`10.${i}00000`));
    expect(carry([...ten, mark('11.000000')])).toMatchObject({ lines: 10, burstUsed: true, waitMs: 5150 });
    expect(carry([...ten.slice(1), mark('11.000000')]).burstUsed).toBe(false);
  });
});
