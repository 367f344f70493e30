/**
 * Block integrity profiles: what a lower disk registers, and what device-mapper makes of several of them
 * under one dm-linear device, at create and at a reload onto other disks. It is the model the `profiles` step
 * is judged by (the kernel's sysfs integrity/ attributes and whether it takes the table).
 *
 * Two kernels' rules, read from their sources:
 * - Before 6.11 (Debian 5.10, 6.1): dm_table_register_integrity() at table load registers the profile of
 *   the table's devices when they all have one and blk_integrity_compare() finds them alike (protection
 *   interval, tuple size, tag size when both have one, the same profile); a mismatch leaves the device
 *   without one. A reload whose devices are alike but unlike the live profile is refused ("conflict with
 *   existing integrity profile", EINVAL); one whose devices have no common profile loads, and at resume
 *   dm_table_verify_integrity() unregisters the live profile.
 * - From 6.11 (Debian 6.12): the profile is a queue limit (queue_limits_stack_integrity): the first device's
 *   settings are inherited with BLK_INTEGRITY_DEVICE_CAPABLE set, later ones must match in tuple size,
 *   interval, tag size, checksum and reference tag or the table gets none. A reload recomputes the limits
 *   and is never refused for its profile.
 */

/** A registered profile as sysfs shows it, plus what blk_integrity_compare/queue_limits_stack_integrity compare. */
export interface IntegrityProfile {
  format: string;
  tupleSize: number;
  tagSize: number;
  intervalBytes: number;
  /** device_is_integrity_capable */
  capable: boolean;
}

/** What sysfs shows for a device with no profile. */
export const NO_PROFILE = 'none';

export type Profile = IntegrityProfile | typeof NO_PROFILE;

/** Bytes of NVMe metadata per block the harness gives a namespace (vm/qemu/args.ts's NVME_METADATA_BYTES). */
const NVME_TUPLE = 8;

/**
 * What nvme_init_integrity registers for a namespace with 8 bytes of metadata of each PI type (16-bit
 * guard): the guard's 2 bytes are the tag for type 1, guard and reference tag 6 for type 3; plain metadata
 * gets the no-op profile and no device capability. A virtio disk registers nothing.
 */
export function diskProfile(d: { nvme?: { pi: 0 | 1 | 3 }; logicalBlockSize?: number }): Profile {
  if (d.nvme === undefined) return NO_PROFILE;
  const intervalBytes = d.logicalBlockSize ?? 512;
  switch (d.nvme.pi) {
    case 0: return { format: 'nop', tupleSize: NVME_TUPLE, tagSize: 0, intervalBytes, capable: false };
    case 1: return { format: 'T10-DIF-TYPE1-CRC', tupleSize: NVME_TUPLE, tagSize: 2, intervalBytes, capable: true };
    case 3: return { format: 'T10-DIF-TYPE3-CRC', tupleSize: NVME_TUPLE, tagSize: 6, intervalBytes, capable: true };
  }
}

/** Kernels whose block integrity profile is a queue limit (6.11's "block: move integrity information into queue_limits"). */
export function profilesAreLimits(kernel: readonly number[]): boolean {
  const [a = 0, b = 0] = kernel;
  return a > 6 || (a === 6 && b >= 11);
}

/** blk_integrity_compare() of two registered profiles (before 6.11): 0 alike, -1 not. */
function compareRegistered(a: IntegrityProfile, b: IntegrityProfile): boolean {
  if (a.intervalBytes !== b.intervalBytes) return false;
  if (a.tupleSize !== b.tupleSize) return false;
  if (a.tagSize !== 0 && b.tagSize !== 0 && a.tagSize !== b.tagSize) return false;
  return a.format === b.format;
}

/** queue_limits_stack_integrity()'s checks (6.11 on): tuple, interval, tag size, checksum and reference tag. */
function compareLimits(a: IntegrityProfile, b: IntegrityProfile): boolean {
  // the format names checksum and reference tag together (blk_integrity_profile_name)
  return a.tupleSize === b.tupleSize && a.intervalBytes === b.intervalBytes && a.tagSize === b.tagSize && a.format === b.format;
}

/** The profile a fresh dm-linear device over `devices` (in table order) gets. */
export function stackProfiles(kernel: readonly number[], devices: readonly Profile[]): Profile {
  if (devices.length === 0) return NO_PROFILE;
  if (!profilesAreLimits(kernel)) {
    // dm_table_get_integrity_disk: every device must have one, each alike the one before
    let prev: IntegrityProfile | undefined;
    for (const d of devices) {
      if (d === NO_PROFILE) return NO_PROFILE;
      if (prev !== undefined && !compareRegistered(prev, d)) return NO_PROFILE;
      prev = d;
    }
    return prev!;
  }
  // queue_limits_stack_integrity: the first device's settings, device-capable, then each must match
  const [first, ...rest] = devices;
  // a first device without one stacks tuple size 0, which no later device with one matches
  if (first === NO_PROFILE) return NO_PROFILE;
  for (const d of rest) if (d === NO_PROFILE || !compareLimits(first!, d)) return NO_PROFILE;
  return { ...first!, capable: true };
}

export interface ReloadOutcome {
  /** whether dmsetup reload takes the table */
  accepted: boolean;
  /** the device's profile after the reload and resume (the old one when refused) */
  after: Profile;
}

/** A live dm-linear device with profile `live` reloaded onto `devices` and resumed. */
export function reloadProfiles(kernel: readonly number[], live: Profile, devices: readonly Profile[]): ReloadOutcome {
  const stacked = stackProfiles(kernel, devices);
  if (profilesAreLimits(kernel)) return { accepted: true, after: stacked };
  if (live === NO_PROFILE) return { accepted: true, after: stacked };
  // dm_table_register_integrity: a device with a profile keeps it, and devices alike but unlike it are refused
  if (stacked !== NO_PROFILE) return compareRegistered(live, stacked) ? { accepted: true, after: live } : { accepted: false, after: live };
  // dm_table_verify_integrity at resume: "unable to establish an integrity profile", unregistered
  return { accepted: true, after: NO_PROFILE };
}

/** The sysfs integrity/ attributes a profile shows, by file name. */
export function profileAttributes(p: Profile): Record<string, string> {
  if (p === NO_PROFILE) return { format: NO_PROFILE, tag_size: '0', protection_interval_bytes: '0' };
  return {
    format: p.format, tag_size: String(p.tagSize), protection_interval_bytes: String(p.intervalBytes),
    device_is_integrity_capable: p.capable ? '1' : '0',
  };
}
