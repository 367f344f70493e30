import { describe, expect, it } from 'vitest';
import { CrashConsistencyModel, MODE_PROMISES, promiseText, type WorkloadOp } from './consistency.ts';

const B = 512;
const blocks = (n: number, byte: number) => Buffer.alloc(n * B, byte);
const old = blocks(8, 0xaa);

// op0: FUA write blocks 0-1; op1: plain write blocks 1-2; op2: flush; op3: plain write block 2; op4: flush
const ops: WorkloadOp[] = [
  { kind: 'write', offset: 0, data: blocks(2, 1), fua: true },
  { kind: 'write', offset: B, data: blocks(2, 2), fua: false },
  { kind: 'flush' },
  { kind: 'write', offset: 2 * B, data: blocks(1, 3), fua: false },
  { kind: 'flush' },
];

describe('CrashConsistencyModel', () => {
  const m = new CrashConsistencyModel('journal', B, old, ops);

  it('a block may be old or any issued write until a write to it is durable, then that one or later', () => {
    expect(m.expect(1, { completed: 0, issued: 0 }).candidates).toEqual([-1]);
    expect(m.expect(1, { completed: 0, issued: 1 }).candidates).toEqual([-1, 0]);
    // op0 was FUA: durable once it returned
    expect(m.expect(1, { completed: 1, issued: 2 }).candidates).toEqual([0, 1]);
    // op1 is durable only after the flush (op2) returned
    expect(m.expect(2, { completed: 2, issued: 3 }).candidates).toEqual([-1, 1]);
    expect(m.expect(2, { completed: 3, issued: 4 }).candidates).toEqual([1, 3]);
    expect(m.expect(2, { completed: 5, issued: 5 }).candidates).toEqual([3]);
    expect(m.expect(7, { completed: 5, issued: 5 }).candidates).toEqual([-1]);
  });

  it('judges: candidates pass; an older value is a lost write, an unissued one a future write, others foreign', () => {
    const p = { completed: 3, issued: 4 };
    expect(m.judge(2, p, 0, blocks(1, 2))).toBeUndefined();
    expect(m.judge(2, p, 0, blocks(1, 3))).toBeUndefined();
    expect(m.judge(2, p, 0, blocks(1, 0xaa))).toMatchObject({ kind: 'lost-write', found: 'old (behind durable op 1)' });
    expect(m.judge(1, { completed: 1, issued: 1 }, 0, blocks(1, 2))).toMatchObject({ kind: 'future-write' });
    expect(m.judge(2, p, 0, blocks(1, 0))).toMatchObject({ kind: 'foreign-data', expected: 'op 1 or op 3' });
    const torn = Buffer.concat([blocks(1, 2).subarray(0, 256), blocks(1, 3).subarray(256)]);
    expect(m.judge(2, p, 0, torn)).toMatchObject({ kind: 'foreign-data' });
  });

  it('journal and bitmap never allow a failed read; direct allows EILSEQ only where a write is pending', () => {
    const p = { completed: 3, issued: 4 };
    expect(m.judge(2, p, 84, Buffer.alloc(B))).toMatchObject({ kind: 'integrity-error', expected: 'reads op 1 or op 3', found: 'errno 84' });
    expect(new CrashConsistencyModel('bitmap', B, old, ops).judge(2, p, 84, Buffer.alloc(B))).toMatchObject({ kind: 'integrity-error' });
    const d = new CrashConsistencyModel('direct', B, old, ops);
    expect(d.judge(2, p, 84, Buffer.alloc(B))).toBeUndefined();
    // block 0 has nothing pending: its durable value must read, error or not
    expect(d.judge(0, p, 84, Buffer.alloc(B))).toMatchObject({ kind: 'integrity-error' });
    // D mode never excuses wrong data returned without an error
    expect(d.judge(2, p, 0, blocks(1, 0))).toMatchObject({ kind: 'foreign-data' });
  });

  it('an old block that cannot be read (AEAD sector never written) may fail while old is a candidate, never read as bytes', () => {
    const j = new CrashConsistencyModel('journal', B, Buffer.alloc(8 * B), ops, new Set([2, 7]));
    // block 7 is never written: its only candidate is the unreadable old
    expect(j.judge(7, { completed: 5, issued: 5 }, 84, Buffer.alloc(B))).toBeUndefined();
    expect(j.judge(7, { completed: 5, issued: 5 }, 0, Buffer.alloc(B))).toMatchObject({ kind: 'foreign-data', expected: 'old' });
    // block 2 before op1 is durable: old (fails) or op 1
    const p = { completed: 2, issued: 3 };
    expect(j.judge(2, p, 84, Buffer.alloc(B))).toBeUndefined();
    expect(j.judge(2, p, 0, blocks(1, 2))).toBeUndefined();
    // once op 1 is durable the old failure is a lost write made visible as an error
    expect(j.judge(2, { completed: 3, issued: 4 }, 84, Buffer.alloc(B))).toMatchObject({ kind: 'integrity-error', expected: 'reads op 1 or op 3' });
    // a readable block with zero bytes is not "old" when old is unreadable
    expect(j.judge(2, p, 0, Buffer.alloc(B))).toMatchObject({ kind: 'foreign-data' });
  });

  it('states each stack\'s promise: AEAD stacks speak of sectors that authenticate, with dm-integrity\'s flags', () => {
    expect(promiseText('integrity', 'journal')).toBe(MODE_PROMISES.journal.text);
    expect(promiseText('crypt-aead', 'journal')).toMatch(/authenticates/);
    expect(promiseText('luks2', 'direct')).toMatch(/EILSEQ[\s\S]*no read returns wrong plaintext/);
  });

  it('rejects a workload that does not fit the device', () => {
    expect(() => new CrashConsistencyModel('journal', B, old, [{ kind: 'write', offset: 7 * B, data: blocks(2, 1), fua: false }])).toThrow(/beyond/);
    expect(() => new CrashConsistencyModel('journal', B, old, [{ kind: 'write', offset: 100, data: blocks(1, 1), fua: false }])).toThrow(/whole 512-byte blocks/);
  });
});
