import { describe, expect, it } from 'vitest';
import { enteredFunctions, executedLines, fileRatios, parseTracefile } from './tracefile.ts';

const INFO = `TN:a
SF:/s/drivers/md/dm-integrity.c
FN:10,dm_integrity_map
FN:20,dm_integrity_ctr
FNDA:3,dm_integrity_map
FNDA:0,dm_integrity_ctr
FNF:2
FNH:1
BRDA:11,0,0,2
BRDA:11,0,1,-
DA:10,3
DA:11,3
DA:20,0
end_of_record
TN:b
SF:/s/drivers/md/dm-integrity.c
FN:10,dm_integrity_map
FN:20,dm_integrity_ctr
FNDA:0,dm_integrity_map
FNDA:1,dm_integrity_ctr
BRDA:11,0,1,1
DA:20,1
end_of_record
`;

describe('parseTracefile', () => {
  it('adds up the sections of one file and counts lines, functions and branches', () => {
    const t = parseTracefile(INFO);
    const f = t.get('/s/drivers/md/dm-integrity.c')!;
    expect(f.functions.get('dm_integrity_map')).toEqual({ line: 10, count: 3 });
    expect(f.functions.get('dm_integrity_ctr')).toEqual({ line: 20, count: 1 });
    expect(fileRatios(f)).toEqual({
      lines: { hit: 3, found: 3, pct: 100 },
      functions: { hit: 2, found: 2, pct: 100 },
      branches: { hit: 2, found: 2, pct: 100 },
    });
  });

  it('one section alone: what was not reached stays 0', () => {
    const t = parseTracefile(INFO.split('TN:b')[0]!);
    const f = t.get('/s/drivers/md/dm-integrity.c')!;
    expect(fileRatios(f)).toEqual({
      lines: { hit: 2, found: 3, pct: 66.7 },
      functions: { hit: 1, found: 2, pct: 50 },
      branches: { hit: 1, found: 2, pct: 50 },
    });
    expect([...enteredFunctions(t)]).toEqual(['/s/drivers/md/dm-integrity.c\tdm_integrity_map']);
    expect(executedLines(t).has('/s/drivers/md/dm-integrity.c:20')).toBe(false);
  });
});
