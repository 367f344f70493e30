/**
 * What dm-integrity must say in the kernel log about checksum failures.
 *
 * integrity_recheck() (6.1.y stable and 6.8+) re-reads a failing bio block by block and stops at the first bad
 * block: one "Checksum failed at sector 0x<hex>" line per failing bio, naming the first 512-byte logical
 * sector of a block that is bad, and one increment of the mismatch counter with it. The line goes through
 * DMERR_LIMIT, i.e. pr_err_ratelimited() with its own state per call site: DEFAULT_RATELIMIT_BURST (10) lines
 * per DEFAULT_RATELIMIT_INTERVAL (5 s). Each guest boots afresh, so the first 10 events are always printed;
 * later ones may be suppressed, never invented.
 */
export const CHECKSUM_FAILED = /Checksum failed at sector 0x([0-9a-f]+)/;
export const RATELIMIT_BURST = 10;

/** How many checksum lines a cell's log may hold, given the bounds on checksum-failure events in it. */
export function checksumLineBounds(events: { min: number; max: number }): { min: number; max: number } {
  return { min: Math.min(events.min, RATELIMIT_BURST), max: events.max };
}

/** The sector a checksum line names for a failing block. */
export function checksumLineSector(block: number, sectorsPerBlock: number): number {
  return block * sectorsPerBlock;
}

/** dm_integrity_io_error() logs this once when journal replay meets an unknown commit id (DMERR, not limited). */
export const JOURNAL_COMMIT_ID_ERROR = 'Error on journal commit id: -5';
