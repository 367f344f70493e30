import { describe, expect, it } from 'vitest';
import { ChecksumTally } from '../../stacks/integrity/integrity-io.ts';
import { splitByStep } from './kernel-log.ts';
import { judgeAeadLog, judgeKernelLog, judgeRefusalLog } from './log-judge.ts';

const DMESG = `[    1.0] boot line
[    3.0] ih: step 4 open
[    3.1] device-mapper: integrity: Error on journal commit id: -5
[    5.5] ih: step 5 read
[    5.6] device-mapper: integrity: dm-0: Checksum failed at sector 0x3
[    5.7] device-mapper: integrity: dm-0: Checksum failed at sector 0x2bc
[    6.0] ih: step 6 status
`;

describe('judgeKernelLog', () => {
  it('cuts the log at the step markers', () => {
    const m = splitByStep(DMESG);
    expect(m.get(-2)).toEqual(['boot line']);
    expect(m.get(5)).toHaveLength(2);
    expect(m.get(6)).toBeUndefined();
  });

  it('accepts lines for the sectors the model expected in that step, and required lines', () => {
    const t = new ChecksumTally();
    t.add(5, 2, 2, [3, 0x2bc]);
    const j = judgeKernelLog(9, DMESG, t, new Map([[4, ['Error on journal commit id: -5']]]), 1);
    expect(j.disagreements).toEqual([]);
    expect(j).toMatchObject({ lines: 2, bounds: { min: 2, max: 2 } });
  });

  it('reports a line for a sector the model did not expect, a count outside the bounds, a missing line', () => {
    const t = new ChecksumTally();
    t.add(5, 1, 1, [3]);
    t.add(6, 12, 12, [8]);
    const found = judgeKernelLog(9, DMESG, t, new Map([[6, ['Error on reading tags']]]), 1).disagreements;
    expect(found.map((d) => [d.kind, d.step])).toEqual([['log-unexpected', 5], ['log-count', 9], ['log-missing', 6]]);
    expect(found[0]!.found).toMatch(/sector 0x2bc/);
    expect(found[1]!.expected).toMatch(/^10\.\.13 /); // 13 events, at most 10 printed before the ratelimit
  });

  it('finds a doctored log: a checksum line moved to another step, a required line taken out', () => {
    const t = new ChecksumTally();
    t.add(5, 2, 2, [3, 0x2bc]);
    const required = new Map([[4, ['Error on journal commit id: -5']]]);
    const moved = DMESG.replace('[    5.7] device-mapper: integrity: dm-0: Checksum failed at sector 0x2bc\n', '')
      .replace('[    6.0] ih: step 6 status\n', '[    6.0] ih: step 6 status\n[    6.1] device-mapper: integrity: dm-0: Checksum failed at sector 0x2bc\n');
    expect(judgeKernelLog(9, moved, t, required, 1).disagreements).toEqual([
      { step: 6, kind: 'log-unexpected', sector: 0x2bc, expected: 'no checksum line', found: 'device-mapper: integrity: dm-0: Checksum failed at sector 0x2bc' },
    ]);
    const silent = DMESG.replace('[    3.1] device-mapper: integrity: Error on journal commit id: -5\n', '');
    expect(judgeKernelLog(9, silent, t, required, 1).disagreements).toEqual([
      { step: 4, kind: 'log-missing', expected: "a kernel line containing 'Error on journal commit id: -5'", found: 'no device-mapper line' },
    ]);
  });

  it('takes a line naming any sector of a failing block (its first since 6.8, its last on 5.10), not one of another block', () => {
    const log = (sector: number) => `[    5.5] ih: step 5 read\n[    5.6] device-mapper: integrity: dm-0: Checksum failed at sector 0x${sector.toString(16)}\n`;
    for (const [sector, ok] of [[0x18, true], [0x1f, true], [0x20, false], [0x17, false]] as const) {
      const t = new ChecksumTally();
      t.add(5, 1, 1, [0x18]); // block 3 of 4 KiB blocks
      const found = judgeKernelLog(9, log(sector), t, new Map(), 8).disagreements;
      expect(found.map((d) => d.kind), `sector 0x${sector.toString(16)}`).toEqual(ok ? [] : ['log-unexpected']);
    }
  });
});

describe('judgeAeadLog', () => {
  const log = `[    5.5] ih: step 3 read
[    5.6] device-mapper: crypt: dm-1: INTEGRITY AEAD ERROR, sector 16
[    5.7] device-mapper: crypt: dm-1: INTEGRITY AEAD ERROR, sector 17
`;

  it('accepts AEAD errors for blocks a read was expected to fail on', () => {
    expect(judgeAeadLog(9, log, new Set([2]), 8)).toEqual({ disagreements: [], blocks: [2, 2] });
  });

  it('finds a doctored log: an AEAD error for a block no read had to fail on', () => {
    const doctored = log.replace('sector 17', 'sector 40');
    expect(judgeAeadLog(9, doctored, new Set([2]), 8).disagreements).toEqual([
      { step: 9, kind: 'aead-log', block: 5, sector: 40, expected: 'no AEAD error (no read of it had to fail)', found: 'INTEGRITY AEAD ERROR logged' },
    ]);
  });
});

describe('judgeRefusalLog', () => {
  const log = `[    7.0] ih: step 2 tables
[    7.1] device-mapper: table: 253:3: integrity: Invalid argument count (-EINVAL)
[    7.2] device-mapper: ioctl: error adding target to table
[    7.3] device-mapper: table: 253:3: integrity: Device too small (-EINVAL)
[    8.0] ih: step 3 close
`;
  const refusals = [{ error: 'Invalid argument count', errno: 'EINVAL' }, { error: 'Device too small', errno: 'EINVAL' }];

  it("finds each refusal's line in order, with the model's errno", () => {
    expect(judgeRefusalLog(2, log, refusals, 'integrity')).toEqual([]);
  });

  it('finds a doctored log: another errno, and a refusal line gone', () => {
    expect(judgeRefusalLog(2, log.replace('Device too small (-EINVAL)', 'Device too small (-ENOMEM)'), refusals, 'integrity')).toEqual([
      { step: 2, kind: 'table-errno', expected: "-EINVAL for 'Device too small'", found: 'device-mapper: table: 253:3: integrity: Device too small (-ENOMEM)' },
    ]);
    expect(judgeRefusalLog(2, log.replace('[    7.1] device-mapper: table: 253:3: integrity: Invalid argument count (-EINVAL)\n', ''), refusals, 'integrity')).toEqual([
      { step: 2, kind: 'log-missing', expected: "a kernel line 'integrity: Invalid argument count'", found: 'device-mapper: table: 253:3: integrity: Device too small (-EINVAL)' },
    ]);
  });
});
