import { describe, expect, it } from 'vitest';
import { IoReportError } from './io-report.ts';
import { decodeUnstableSectors, parseUnstableReport } from './unstable-report.ts';

describe('parseUnstableReport', () => {
  it('turns byte offsets into sectors and each read back sector into a version or its bytes', () => {
    const hex = 'ab'.repeat(512);
    const rep = parseUnstableReport([
      '{"op":"uw","k":0,"off":65536,"len":1024,"t0":10,"t1":40,"errno":0,"versions":7,"mut":12}',
      `{"op":"ub","k":0,"off":65536,"len":1024,"errno":0,"v":"6 x${hex}"}`,
      '{"op":"ub","k":0,"off":66560,"len":1024,"errno":84}',
      '{"op":"unstable-summary","ok":false,"engine":"aio","writes":1,"mutated":1,"elapsed_us":99}',
    ].join('\n'));
    expect(rep.writes).toEqual([{ k: 0, sector: 128, sectors: 2, t0: 10, t1: 40, errno: 0, versions: 7, mutated: 12 }]);
    expect(rep.reads[0]!.sectors).toEqual([{ kind: 'version', v: 6 }, { kind: 'bytes', bytes: Buffer.alloc(512, 0xab) }]);
    expect(rep.reads[1]).toEqual({ k: 0, sector: 130, errno: 84 });
    expect(rep.summary).toEqual({ ok: false, engine: 'aio', writes: 1, mutated: 1, elapsedUs: 99 });
  });

  it('refuses sectors that do not cover the read, tokens it cannot read and lines of unknown shape', () => {
    expect(() => decodeUnstableSectors('1 2', 3, 'line 1')).toThrow(/2 sectors for 3/);
    expect(() => decodeUnstableSectors('xabc', 1, 'line 1')).toThrow(IoReportError);
    expect(() => parseUnstableReport('{"op":"uw","k":1}')).toThrow(/unexpected shape/);
    expect(() => parseUnstableReport('not json')).toThrow(/not JSON/);
  });
});
