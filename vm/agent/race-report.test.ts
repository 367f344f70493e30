import { describe, expect, it } from 'vitest';
import { IoReportError } from './io-report.ts';
import { decodeVersions, parseRaceReport } from './race-report.ts';

describe('parseRaceReport', () => {
  it('turns byte offsets into sectors and run-length versions into one per sector', () => {
    const rep = parseRaceReport([
      '{"op":"initial","off":4096,"len":2048,"t0":1,"t1":2,"errno":0,"v":"h00000000000000aa*4"}',
      '{"op":"rw","w":1,"k":0,"off":4096,"len":1024,"t0":3,"t1":9,"errno":0}',
      '{"op":"rr","w":2,"k":0,"off":4096,"len":2048,"t0":4,"t1":8,"errno":0,"v":"1.0*2 p h0123456789abcdef"}',
      '{"op":"rr","w":2,"k":1,"off":4608,"len":512,"t0":5,"t1":7,"errno":84,"error":"EILSEQ"}',
      '{"op":"final","off":4096,"len":2048,"t0":10,"t1":11,"errno":0,"v":"1.0*2 p*2"}',
      '{"op":"race-summary","ok":false,"engine":"aio","procs":2,"ops":2,"qd":4,"died":0,"elapsed_us":12}',
    ].join('\n'));
    expect(rep.writes).toEqual([{ writer: 1, seq: 0, sector: 8, sectors: 2, t0: 3, t1: 9, errno: 0 }]);
    expect(rep.reads[0]!.versions).toEqual([
      { kind: 'write', writer: 1, seq: 0 }, { kind: 'write', writer: 1, seq: 0 }, { kind: 'pre' }, { kind: 'other', hash: '0123456789abcdef' },
    ]);
    expect(rep.reads[1]).toEqual({ writer: 2, seq: 1, sector: 9, sectors: 1, t0: 5, t1: 7, errno: 84 });
    expect(rep.initial!.versions).toHaveLength(4);
    expect(rep.final!.sector).toBe(8);
    expect(rep.summary).toEqual({ ok: false, engine: 'aio', procs: 2, ops: 2, qd: 4, died: 0, elapsedUs: 12 });
  });

  it('reads the churn\'s dmsetup lines in order, with an exit status or the signal that ended one', () => {
    const rep = parseRaceReport([
      '{"op":"dm","round":0,"cmd":"suspend","flags":"noflush","t0":5,"t1":9,"exit":0}',
      '{"op":"dm","round":0,"cmd":"reload","flags":"table1","t0":10,"t1":12,"exit":1}',
      '{"op":"dm","round":0,"cmd":"resume","flags":"","t0":13,"t1":20,"exit":-1,"signal":9}',
    ].join('\n'));
    expect(rep.dm).toEqual([
      { round: 0, cmd: 'suspend', flags: 'noflush', t0: 5, t1: 9, exit: 0 },
      { round: 0, cmd: 'reload', flags: 'table1', t0: 10, t1: 12, exit: 1 },
      { round: 0, cmd: 'resume', flags: '', t0: 13, t1: 20, exit: -1, signal: 9 },
    ]);
    expect(() => parseRaceReport('{"op":"dm","round":0,"cmd":"remove","flags":"","t0":1,"t1":2,"exit":0}')).toThrow(/unexpected shape/);
  });

  it('refuses versions that do not cover the sectors, tokens it cannot read and lines of unknown shape', () => {
    expect(() => decodeVersions('1.0*3', 4, 'line 1')).toThrow(/3 versions for 4 sectors/);
    expect(() => decodeVersions('x*4', 4, 'line 1')).toThrow(IoReportError);
    expect(() => parseRaceReport('{"op":"rr","w":1}')).toThrow(/unexpected shape/);
    expect(() => parseRaceReport('not json')).toThrow(/not JSON/);
  });
});
