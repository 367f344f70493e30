import { describe, expect, it } from 'vitest';
import { flushCountersArgv, judgeFlushReach, parseFlushCounters, type LowerDisk } from './flush-judge.ts';
import type { FlushDuty } from '../../model/integrity/flush-reach.ts';

const disks: LowerDisk[] = [{ role: 'data', block: 'vdb' }, { role: 'meta', block: 'vdc' }];
/** a 6.1 stat line: 17 fields, flushes (field 16) as given */
const stat = (flushes: number) => `     120        0     2048       30      400        0    8192      200        0      300      230        0        0        0        0 ${flushes}        7`;
const counters = (data: number, meta: number, cache = 'write back') => parseFlushCounters(`vdb ${cache}\n${stat(data)}\nvdc write back\n${stat(meta)}\n`);
const duties: FlushDuty[] = [{ role: 'data', must: true, why: 'bitmap mode' }, { role: 'meta', must: true, why: 'bitmap mode' }];

describe('flush counters', () => {
  it('reads each disk\'s write cache and flush count (stat field 16)', () => {
    expect(counters(3, 9).get('vdb')).toEqual({ writeCache: 'write back', flushes: 3 });
    expect(counters(3, 9, 'write through').get('vdb')!.writeCache).toBe('write through');
    // before Linux 5.5 the line ends after the discard fields: no flush count
    expect(parseFlushCounters('vdb write back\n 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n').get('vdb')).toEqual({ writeCache: 'write back' });
  });

  it('names the disks in one command', () => {
    expect(flushCountersArgv(disks).slice(-2)).toEqual(['vdb', 'vdc']);
  });
});

describe('judgeFlushReach', () => {
  it('agrees when every disk the model names counted a flush', () => {
    const j = judgeFlushReach(4, disks, duties, counters(3, 9), counters(4, 11));
    expect(j.disagreements).toEqual([]);
    expect(j.notes[0]).toContain('data disk vdb: 1 flush(es)');
  });

  it('names a data disk the flush never reached (the bug 9b5948267adc fixed)', () => {
    const j = judgeFlushReach(4, disks, duties, counters(3, 9), counters(3, 10));
    expect(j.disagreements).toEqual([{ step: 4, kind: 'flush-reach', expected: 'at least one flush on the data disk vdb (bitmap mode)', found: 'flush counter 3 -> 3' }]);
  });

  it('asks nothing of a disk the model does not require', () => {
    const j = judgeFlushReach(4, disks, [{ role: 'data', must: false, why: 'journal mode' }, duties[1]!], counters(3, 9), counters(3, 10));
    expect(j.disagreements).toEqual([]);
  });

  it('says which disks had no counters instead of judging them', () => {
    const old = parseFlushCounters('vdb write back\n 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\nvdc write back\n' + stat(1));
    const j = judgeFlushReach(4, disks, duties, old, old);
    expect(j.unobserved).toEqual(['vdb']);
    expect(j.disagreements).toHaveLength(1);
  });
});
