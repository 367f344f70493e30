import { describe, expect, it } from 'vitest';
import { diskProfile } from '../../model/integrity/profile-stack.ts';
import { attributeDiffs, linearTable, parseAttributes, parseDeps } from './profiles-step.ts';

const ctx = {
  disks: { dev: (n: string) => ({ a: '/dev/nvme0n1', b: '/dev/vdb' })[n]! },
  declared: new Map([['a', { size: 8 * 1024 * 1024, logicalBlockSize: 512 as const }], ['b', { size: 4 * 1024 * 1024, logicalBlockSize: 512 as const }]]),
  at: 'x.yaml: steps[3].profiles',
};

describe('the profiles step', () => {
  it('puts the named disks end to end, each whole', () => {
    expect(linearTable(ctx, ['a', 'b'])).toBe('0 16384 linear /dev/nvme0n1 0\n16384 8192 linear /dev/vdb 0\n');
  });

  it('refuses a name that is not a declared disk, naming where', () => {
    expect(() => linearTable(ctx, ['c'])).toThrow(/x\.yaml: steps\[3\]\.profiles: 'c' names no declared disk/);
  });

  it('reads the attribute lines, an empty value included', () => {
    const m = parseAttributes('format T10-DIF-TYPE1-CRC\ntag_size 2\nprotection_interval_bytes 512\ndevice_is_integrity_capable\nother 1\n');
    expect([...m]).toEqual([['format', 'T10-DIF-TYPE1-CRC'], ['tag_size', '2'], ['protection_interval_bytes', '512'], ['device_is_integrity_capable', '']]);
  });

  it('names each attribute the kernel shows otherwise than the model', () => {
    const seen = parseAttributes('format T10-DIF-TYPE1-CRC\ntag_size 2\nprotection_interval_bytes 512\ndevice_is_integrity_capable 0\n');
    expect(attributeDiffs(diskProfile({ nvme: { pi: 1 } }), seen)).toEqual([{ file: 'device_is_integrity_capable', expected: '1', found: '0' }]);
    expect(attributeDiffs('none', seen).map((d) => d.file)).toEqual(['format', 'tag_size', 'protection_interval_bytes']);
  });

  it('reads the devices a live table maps', () => {
    expect(parseDeps(' 2 dependencies\t: (nvme1n1) (nvme0n1)\n')).toEqual(['nvme0n1', 'nvme1n1']);
    expect(parseDeps(' 0 dependencies\t:\n')).toEqual([]);
  });
});
