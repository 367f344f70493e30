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

/** The sector a checksum line names for a failing block (integrity_recheck(): the block's first). */
export function checksumLineSector(block: number, sectorsPerBlock: number): number {
  return block * sectorsPerBlock;
}

/**
 * The failing block a checksum line names, as the first sector of it. The line names a sector inside the
 * block: its first since "dm-integrity: recheck the integrity tag after a failure" (c88f5e553fe3, 6.8, in the
 * 6.1 and 6.6 stable series), one derived from the tag's position before it (the block's last sector for a
 * one-block read: Debian 11's 5.10 logs 0x7 for the 4 KiB block at 0x0). Either names the same block.
 */
export function checksumLineBlockSector(sector: number, sectorsPerBlock: number): number {
  return sector - (sector % sectorsPerBlock);
}

/** dm_integrity_io_error() logs this once when journal replay meets an unknown commit id (DMERR, not limited). */
export const JOURNAL_COMMIT_ID_ERROR = 'Error on journal commit id: -5';
