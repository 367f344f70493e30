/**
 * Which lower devices a flush of a dm-integrity device must reach (an fsync of the top device: an empty
 * REQ_PREFLUSH bio). Rules (drivers/md/dm-integrity.c, Debian's 6.1 and 6.12 agree):
 * - dm_integrity_map() hands a flush to the commit work (submit_flush_bio); integrity_commit() then, in any
 *   mode but 'J', calls dm_integrity_flush_buffers(ic, true): dm_bufio_write_dirty_buffers() ends with a flush
 *   of the device bufio sits on (the metadata device, or the data device without one), and with a separate
 *   metadata device a REQ_PREFLUSH to the data device too. That second flush is 9b5948267adc ("dm integrity:
 *   fix flush with external metadata device", 5.11 and stable): before it the data device of a bitmap or
 *   direct mode stack with --data-device never saw a flush, so acknowledged writes sat in its volatile cache.
 * - In journal mode ('J') integrity_commit() writes the uncommitted journal sections (write_journal(),
 *   REQ_FUA on the device holding the journal: the metadata device, or the only one) and flushes nothing
 *   else: the data sit in the journal. With nothing uncommitted it writes nothing at all. Sections are
 *   committed before the flush by the autocommit timer (journal_commit_time ms after the first uncommitted
 *   write) and by the write that leaves no more free journal entries than the watermark allows
 *   (free_sectors <= free_sectors_threshold, journal_watermark percent of the journal used, default 50), so
 *   only writes that neither can have committed leave the flush work.
 * - Recovery mode ('R') refuses writes before the commit work is reached by anything but a flush; what its
 *   flush writes is not modelled, so nothing is required of it.
 * - The block layer completes a flush of a device without a volatile write cache at once, without the
 *   driver (blk_insert_flush(): no REQ_FSEQ_PREFLUSH), and counts only flushes the device executes
 *   (blk_account_io_flush(), /sys/block/<disk>/stat fields 16-17, Linux 5.5+). A FUA write to a device
 *   without FUA support (virtio-blk) becomes a write plus a counted flush. So a lower device without a
 *   write cache owes no counted flush.
 * A flush the model does not require may still be counted (the autocommit timer, bitmap_flush_work, the
 * journal writer): the judge only checks that what the model requires happened.
 */

/** The lower devices of a dm-integrity stack by what they hold. */
export type LowerRole = 'data' | 'meta';

/** Uncommitted journal writes as the cell counted them since the last commit it knows of. */
export interface UncommittedJournal {
  /** bytes written since then; Infinity when a step wrote what the cell does not count (a race, a crash) */
  bytes: number;
  /** the longest the first of those writes can be before the flush: the steps since it, each within its timeout */
  maxMsBeforeFlush: number;
}

/** The mode the device is open in (the table's J, B, D or R). */
export type FlushMode = 'journal' | 'bitmap' | 'direct' | 'recovery';

export interface FlushReachInput {
  mode: FlushMode;
  separateMetadata: boolean;
  /** journal mode: what is left to commit; undefined when nothing was written since the last commit */
  uncommitted?: UncommittedJournal;
  /** the autocommit timer (integritysetup --journal-commit-time, default 10000 ms) */
  journalCommitMs: number;
  /** the journal's data capacity in bytes (sections x entries x block size) */
  journalBytes: number;
  /** integritysetup --journal-watermark (the table's journal_watermark): the percent of the journal whose use commits it; default 50 */
  journalWatermark?: number;
  /**
   * The live table is not the stack's own: a race's churn loaded a tuned one (commit_time and journal_watermark
   * moved, session/tuned-table.ts) in this activation, so when the journal commits is not known.
   */
  tunedTable?: boolean;
  /** each lower device's volatile write cache (/sys/block/<disk>/queue/write_cache says "write back") */
  writeCache: Partial<Record<LowerRole, boolean>>;
}

export interface FlushDuty {
  role: LowerRole;
  /** true: at least one flush must be counted on the device while the flush runs */
  must: boolean;
  why: string;
}

/** dm-integrity's default journal_commit_time (DEFAULT_JOURNAL_COMMIT_TIME). */
export const DEFAULT_JOURNAL_COMMIT_MS = 10000;
/** dm-integrity's default journal_watermark (DEFAULT_JOURNAL_WATERMARK), in percent. */
export const DEFAULT_JOURNAL_WATERMARK = 50;

/** For each lower device of the stack (data, and meta when separate), whether the flush must reach it. */
export function expectFlushReach(input: FlushReachInput): FlushDuty[] {
  const roles: LowerRole[] = input.separateMetadata ? ['data', 'meta'] : ['data'];
  /** where bufio and the journal live */
  const metaRole: LowerRole = input.separateMetadata ? 'meta' : 'data';
  return roles.map((role) => {
    if (input.writeCache[role] !== true) return { role, must: false, why: 'no volatile write cache: the block layer completes flushes without the device' };
    if (input.mode === 'recovery') return { role, must: false, why: 'recovery mode: its flush is not modelled' };
    if (input.mode !== 'journal') {
      return { role, must: true, why: role === metaRole ? `${input.mode} mode: dm_bufio_write_dirty_buffers() flushes the device the tags are on` : `${input.mode} mode with a separate metadata device: dm_integrity_flush_buffers(ic, true) flushes the data device (9b5948267adc)` };
    }
    if (role !== metaRole) return { role, must: false, why: 'journal mode: the data are in the journal on the metadata device; the data device is flushed only by journal writeback' };
    const u = input.uncommitted;
    if (u === undefined) return { role, must: false, why: 'journal mode with nothing written since the last commit: the commit work writes nothing' };
    if (input.tunedTable === true) return { role, must: false, why: 'journal mode under a tuned table a churn loaded: its commit time and watermark may have committed the writes before the flush' };
    // one percent below the watermark: the kernel rounds the threshold to whole entries
    const watermark = input.journalWatermark ?? DEFAULT_JOURNAL_WATERMARK;
    if (!Number.isFinite(u.bytes) || u.bytes * 100 >= input.journalBytes * (watermark - 1)) {
      return { role, must: false, why: `journal mode: the writes since the last commit may have used ${watermark}% of the journal (journal_watermark), which commits them` };
    }
    if (u.maxMsBeforeFlush >= input.journalCommitMs) return { role, must: false, why: `journal mode: the autocommit timer (${input.journalCommitMs} ms) may have committed the writes before the flush (up to ${u.maxMsBeforeFlush} ms)` };
    return { role, must: true, why: `journal mode: ${u.bytes} bytes uncommitted, which the flush commits with a FUA journal write` };
  });
}
