import { describe, expect, it } from 'vitest';
import { expectFlushReach, type FlushReachInput } from './flush-reach.ts';

const base: FlushReachInput = { mode: 'bitmap', separateMetadata: true, journalCommitMs: 10000, journalBytes: 1 << 20, writeCache: { data: true, meta: true } };
const must = (input: FlushReachInput) => Object.fromEntries(expectFlushReach(input).map((d) => [d.role, d.must]));

describe('expectFlushReach', () => {
  it('requires both devices in bitmap and direct mode with a metadata device (9b5948267adc)', () => {
    expect(must(base)).toEqual({ data: true, meta: true });
    expect(must({ ...base, mode: 'direct' })).toEqual({ data: true, meta: true });
    expect(expectFlushReach(base)[0]!.why).toContain('9b5948267adc');
  });

  it('requires the one device without a metadata device', () => {
    expect(must({ ...base, separateMetadata: false, writeCache: { data: true } })).toEqual({ data: true });
  });

  it('requires nothing of a device without a volatile write cache, nor in recovery mode', () => {
    expect(must({ ...base, writeCache: { data: false, meta: true } })).toEqual({ data: false, meta: true });
    expect(must({ ...base, mode: 'recovery' })).toEqual({ data: false, meta: false });
  });

  it('in journal mode requires the journal device only while writes wait for a commit no timer can have made', () => {
    const journal = { ...base, mode: 'journal' as const, journalCommitMs: 300000 };
    expect(must(journal)).toEqual({ data: false, meta: false });
    expect(must({ ...journal, uncommitted: { bytes: 65536, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: true });
    expect(must({ ...journal, separateMetadata: false, uncommitted: { bytes: 65536, maxMsBeforeFlush: 120000 } })).toEqual({ data: true });
    // the autocommit timer may have fired first
    expect(must({ ...journal, journalCommitMs: 10000, uncommitted: { bytes: 65536, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
    // the writes may have filled the journal, which commits them
    expect(must({ ...journal, uncommitted: { bytes: 600000, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
    expect(must({ ...journal, uncommitted: { bytes: Infinity, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
    // half the journal used is the default watermark, which commits (free_sectors <= free_sectors_threshold)
    expect(must({ ...journal, uncommitted: { bytes: 1 << 19, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
    // a lower journal_watermark commits sooner, a higher one later
    expect(must({ ...journal, journalWatermark: 5, uncommitted: { bytes: 65536, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
    expect(must({ ...journal, journalWatermark: 90, uncommitted: { bytes: 600000, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: true });
    // a churn's tuned table moved the commit time and the watermark: nothing is known of when the journal commits
    expect(must({ ...journal, tunedTable: true, uncommitted: { bytes: 65536, maxMsBeforeFlush: 120000 } })).toEqual({ data: false, meta: false });
  });
});
