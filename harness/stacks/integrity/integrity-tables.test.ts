import { describe, expect, it } from 'vitest';
import { resolveTableArgs } from './integrity-tables.ts';

const ctx = {
  diskSizes: new Map([['data', 16 << 20], ['scratch', 1 << 20]]),
  disks: { dev: (d: string) => ({ data: '/dev/vdb', scratch: '/dev/vdc' })[d]! },
  at: 'x.yaml: steps[2].tables',
};

describe('resolveTableArgs', () => {
  it('names disks by their guest device and makes dm-linear prefixes and dm-error devices as helpers', () => {
    const r = resolveTableArgs('{disk:data} 0 4 J 2 meta_device:{disk:scratch:400} internal_hash:crc32c', ctx, 3);
    expect(r.line).toBe('/dev/vdb 0 4 J 2 meta_device:/dev/mapper/ih-t3-0 internal_hash:crc32c');
    expect(r.named).toEqual([
      { path: '/dev/vdb', sectors: 32768, disk: 'data' },
      { path: '/dev/mapper/ih-t3-0', sectors: 400, disk: 'scratch', helper: { name: 'ih-t3-0', table: '0 400 linear /dev/vdc 0\n' } },
    ]);
    const e = resolveTableArgs('{error:64} 0 4 J 0 {missing}', ctx, 0);
    expect(e.line).toBe('/dev/mapper/ih-t0-0 0 4 J 0 /dev/ih-missing');
    expect(e.named).toEqual([{ path: '/dev/mapper/ih-t0-0', sectors: 64, helper: { name: 'ih-t0-0', table: '0 64 error\n' } }]);
  });

  it('refuses a disk the scenario does not declare', () => {
    expect(() => resolveTableArgs('{disk:nope} 0 4 J 0', ctx, 0)).toThrow(/x\.yaml: steps\[2\]\.tables: \{disk:nope\} names no declared disk/);
  });
});
