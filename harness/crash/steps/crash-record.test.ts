/** A crash workload's guest commands, pinned as runs record them in steps.jsonl (and reproducers replay them). */
import { describe, expect, it } from 'vitest';
import { workloadArgv } from './crash-record.ts';

const ctx = { stack: { top: '/dev/mapper/ih-int' }, payload: { guest: '/dev/vdd' }, blockSize: 4096 } as Parameters<typeof workloadArgv>[0];

describe('workloadArgv', () => {
  it('copies a write from its place on the payload disk, one --bs I/O at a time from --jobs threads, --fua last', () => {
    expect(workloadArgv(ctx, { write: { offset: 8192, length: 16384, bs: 'block', jobs: 4, fua: true } }, 65536)).toEqual([
      'ih-io', 'copy', '--src', '/dev/vdd', '--src-offset', '65536', '--dst', '/dev/mapper/ih-int', '--dst-offset', '8192',
      '--length', '16384', '--bs', '4096', '--block', '4096', '--jobs', '4', '--fua',
    ]);
    expect(workloadArgv(ctx, { write: { offset: 0, length: 1048576, bs: 65536, jobs: 1, fua: false } }, 0)).toEqual([
      'ih-io', 'copy', '--src', '/dev/vdd', '--src-offset', '0', '--dst', '/dev/mapper/ih-int', '--dst-offset', '0',
      '--length', '1048576', '--bs', '65536', '--block', '4096', '--jobs', '1',
    ]);
  });
  it('flushes the top device', () => {
    expect(workloadArgv(ctx, 'flush', 0)).toEqual(['ih-io', 'flush', '--dev', '/dev/mapper/ih-int']);
  });
});
