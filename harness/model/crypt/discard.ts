/**
 * Discards through dm-crypt AEAD on dm-integrity, as Linux 6.1 does them (line numbers from
 * linux-source-6.1, drivers/md and block/):
 * 1. dm-integrity refuses allow_discards without an internal hash: dm_integrity_ctr(), dm-integrity.c:4327,
 *    `if (ic->discard && !ic->internal_hash)` -> "Discard can be only used with internal hash", -EINVAL.
 *    dm-crypt AEAD needs dm-integrity without one (its tags are dm-crypt's tuples), so the lower layer
 *    never takes discards (its num_discard_bios stays 0, dm-integrity.c:4689).
 * 2. dm-crypt accepts allow_discards with integrity (crypt_ctr_optional(), dm-crypt.c:3124: no check), but
 *    it sets no discards_supported, so dm_table_supports_discards() (dm-table.c:1908) requires every
 *    device under it to take discards; dm-integrity does not, so the crypt device gets
 *    max_discard_sectors 0 (dm-table.c:1963).
 * 3. BLKDISCARD on a device with max_discard_sectors 0 fails with EOPNOTSUPP before looking at the range
 *    (blk_ioctl_discard(), block/ioctl.c:99), and nothing on the disk changes.
 * cryptsetup knows: LUKS2_activate() refuses `open --allow-discards` for an integrity device with
 * "Discard/TRIM is not supported." (lib/luks2/luks2_json_metadata.c, cryptsetup 2.6), exit 1.
 */
import { EOPNOTSUPP } from '../integrity/device.ts';

/** The kernel log line (after "device-mapper: table: <dev>: integrity: ") for refusal 1. */
export const INTEGRITY_DISCARD_REFUSAL = 'Discard can be only used with internal hash';
/** cryptsetup's stderr for `open --allow-discards` of a LUKS2 device with integrity. */
export const LUKS2_DISCARD_REFUSAL = 'Discard/TRIM is not supported.';

/** Does a dm-integrity table with allow_discards load? */
export function integrityTakesAllowDiscards(p: { internalHash: boolean }): { ok: true } | { ok: false; error: string } {
  return p.internalHash ? { ok: true } : { ok: false, error: INTEGRITY_DISCARD_REFUSAL };
}

/**
 * What BLKDISCARD on the crypt device returns. dm-integrity under it never has allow_discards (refusal 1:
 * the runner builds it without after checking the refusal), so whatever dm-crypt's table says, the
 * request fails and no block changes.
 */
export function expectCryptDiscard(p: { cryptAllowDiscards: boolean }): { ok: false; errno: number; maxDiscardBytes: 0; why: string } {
  return {
    // max_discard_sectors 0 (refusal 2) shows as /sys/block/dm-N/queue/discard_max_bytes 0
    ok: false, errno: EOPNOTSUPP, maxDiscardBytes: 0,
    why: p.cryptAllowDiscards ? 'dm-integrity under dm-crypt takes no discards (no internal hash)' : 'dm-crypt table without allow_discards',
  };
}
