import { describe, expect, it } from 'vitest';
import { judgeCryptStatus, judgeIntegrityStatus, parseIntegrityStatus } from './status-judge.ts';

describe('parseIntegrityStatus', () => {
  it('reads the mismatch counter, the provided data sectors and the recalculation sector', () => {
    expect(parseIntegrityStatus('0 7680 integrity 3 7680 -\n')).toEqual({ mismatches: 3, providedDataSectors: 7680, recalcSector: '-' });
    expect(parseIntegrityStatus('0 7680 crypt aes-gcm')).toBeUndefined();
  });

  it('reads the older targets\' shorter lines only where the target version says that form', () => {
    // 4.13's target 1.0.0 prints nothing after the target name; 4.14's 1.1.0 the counter alone
    expect(parseIntegrityStatus('0 129160 integrity\n', 'none')).toEqual({ providedDataSectors: 129160, recalcSector: '-' });
    expect(parseIntegrityStatus('0 129160 integrity 2', 'mismatches')).toEqual({ mismatches: 2, providedDataSectors: 129160, recalcSector: '-' });
    expect(parseIntegrityStatus('0 129160 integrity', 'full')).toBeUndefined();
    expect(parseIntegrityStatus('0 129160 integrity', 'mismatches')).toBeUndefined();
    expect(parseIntegrityStatus('0 129160 integrity 2 129160 -', 'none')).toBeUndefined();
  });
});

describe('judgeIntegrityStatus', () => {
  const want = { providedDataSectors: 7680, mismatches: { min: 2, max: 4 } };

  it('agrees with a counter inside the model\'s range and the superblock\'s size', () => {
    for (const n of [2, 3, 4]) expect(judgeIntegrityStatus(5, `0 7680 integrity ${n} 7680 -`, want)).toEqual({ status: { mismatches: n, providedDataSectors: 7680, recalcSector: '-' }, disagreements: [] });
  });

  it('names a counter outside the range, and a size unlike the superblock\'s, in that order', () => {
    expect(judgeIntegrityStatus(5, '0 7680 integrity 5 7672 -', want).disagreements).toEqual([
      { step: 5, kind: 'status-size', expected: '7680 provided data sectors (superblock)', found: '7672' },
      { step: 5, kind: 'mismatch-counter', expected: '2..4', found: '5' },
    ]);
    expect(judgeIntegrityStatus(5, '0 7680 integrity 1 7680 -', { ...want, mismatches: { min: 0, max: 0 }, why: 'no internal hash under dm-crypt' }).disagreements).toEqual([
      { step: 5, kind: 'mismatch-counter', expected: '0 (no internal hash under dm-crypt)', found: '1' },
    ]);
    expect(judgeIntegrityStatus(5, '0 7680 integrity 1 7680 -', { ...want, mismatches: { min: 3, max: 3 } }).disagreements[0]).toMatchObject({ expected: '3' });
  });

  it('leaves a line that is not dm-integrity\'s status to the caller', () => {
    expect(judgeIntegrityStatus(5, 'device-mapper: status ioctl failed', want)).toEqual({ disagreements: [] });
  });
});

describe('judgeCryptStatus', () => {
  it('wants the crypt target over exactly the provided data sectors', () => {
    expect(judgeCryptStatus(2, '0 7680 crypt \n', 7680)).toEqual([]);
    expect(judgeCryptStatus(2, '0 7688 crypt', 7680)).toEqual([{ step: 2, kind: 'status-size', expected: '0 7680 crypt', found: '0 7688 crypt' }]);
    expect(judgeCryptStatus(2, '0 76800 crypt', 7680)).toHaveLength(1);
  });
});
