import { describe, expect, it } from 'vitest';
import type { Disagreement } from '../../run/session/observations.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { judgeKernelLog } from './integrity-checks.ts';
import { ChecksumTally } from './integrity-io.ts';
import { splitByStep } from '../../run/session/kernel-log.ts';

function stub() {
  const found: Disagreement[] = [];
  const s = { disagree: (d: Disagreement) => found.push(d), note: () => undefined } as unknown as GuestSession;
  return { s, found };
}

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
    const { s, found } = stub();
    judgeKernelLog(s, 9, DMESG, t, new Map([[4, ['Error on journal commit id: -5']]]), 1);
    expect(found).toEqual([]);
  });

  it('reports a line for a sector the model did not expect, a count outside the bounds, a missing line', () => {
    const t = new ChecksumTally();
    t.add(5, 1, 1, [3]);
    t.add(6, 12, 12, [8]);
    const { s, found } = stub();
    judgeKernelLog(s, 9, DMESG, t, new Map([[6, ['Error on reading tags']]]), 1);
    expect(found.map((d) => [d.kind, d.step])).toEqual([['log-unexpected', 5], ['log-count', 9], ['log-missing', 6]]);
    expect(found[0]!.found).toMatch(/sector 0x2bc/);
    expect(found[1]!.expected).toMatch(/^10\.\.13 /); // 13 events, at most 10 printed before the ratelimit
  });

  it('takes a line naming any sector of a failing block (its first since 6.8, its last on 5.10), not one of another block', () => {
    const log = (sector: number) => `[    5.5] ih: step 5 read\n[    5.6] device-mapper: integrity: dm-0: Checksum failed at sector 0x${sector.toString(16)}\n`;
    for (const [sector, ok] of [[0x18, true], [0x1f, true], [0x20, false], [0x17, false]] as const) {
      const t = new ChecksumTally();
      t.add(5, 1, 1, [0x18]); // block 3 of 4 KiB blocks
      const { s, found } = stub();
      judgeKernelLog(s, 9, log(sector), t, new Map(), 8);
      expect(found.map((d) => d.kind), `sector 0x${sector.toString(16)}`).toEqual(ok ? [] : ['log-unexpected']);
    }
  });
});
