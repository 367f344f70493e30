import { describe, expect, it } from 'vitest';
import { diskProfile, NO_PROFILE, profileAttributes, profilesAreLimits, reloadProfiles, stackProfiles } from './profile-stack.ts';

const virtio = diskProfile({});
const pi1 = diskProfile({ nvme: { pi: 1 } });
const pi1k = diskProfile({ nvme: { pi: 1 }, logicalBlockSize: 4096 });
const pi3 = diskProfile({ nvme: { pi: 3 } });
const pi0 = diskProfile({ nvme: { pi: 0 } });
const K61 = [6, 1, 119];
const K612 = [6, 12, 57];
const formatOf = (p: ReturnType<typeof stackProfiles>) => (p === NO_PROFILE ? NO_PROFILE : p.format);

describe('what a disk registers', () => {
  it('a virtio disk nothing; an NVMe namespace its PI type at its logical block size', () => {
    expect(virtio).toBe(NO_PROFILE);
    expect(pi1).toEqual({ format: 'T10-DIF-TYPE1-CRC', tupleSize: 8, tagSize: 2, intervalBytes: 512, capable: true });
    expect(pi1k).toMatchObject({ intervalBytes: 4096 });
    expect(pi3).toMatchObject({ format: 'T10-DIF-TYPE3-CRC', tagSize: 6 });
    expect(pi0).toMatchObject({ format: 'nop', tagSize: 0, capable: false });
  });
});

describe('which kernels keep the profile as a queue limit', () => {
  it('from 6.11 on', () => {
    expect([[5, 10], [6, 1], [6, 10], [6, 11], [6, 12], [7, 0]].map(profilesAreLimits)).toEqual([false, false, false, true, true, true]);
  });
});

describe('a fresh dm-linear device over several disks', () => {
  it('before 6.11: the common profile when all are alike, else none (blk_integrity_compare)', () => {
    expect(stackProfiles(K61, [pi1, pi1])).toEqual(pi1);
    expect(formatOf(stackProfiles(K61, [pi1, pi3]))).toBe(NO_PROFILE); // tag sizes 2 and 6
    expect(formatOf(stackProfiles(K61, [pi1, pi1k]))).toBe(NO_PROFILE); // protection intervals
    expect(formatOf(stackProfiles(K61, [pi1, pi0]))).toBe(NO_PROFILE); // the no-op profile has no tag: the profiles differ
    expect(formatOf(stackProfiles(K61, [virtio, pi1]))).toBe(NO_PROFILE);
    expect(formatOf(stackProfiles(K61, [pi1, virtio]))).toBe(NO_PROFILE);
    // the no-op profile is registered as it is, without device capability
    expect(stackProfiles(K61, [pi0])).toEqual(pi0);
  });

  it('from 6.11: the first device\'s settings, always device-capable; any difference clears them', () => {
    expect(stackProfiles(K612, [pi0])).toEqual({ ...pi0 as object, capable: true });
    expect(stackProfiles(K612, [pi3, pi3])).toEqual(pi3);
    for (const pair of [[pi1, pi3], [pi1, pi1k], [pi1, pi0], [virtio, pi1], [pi1, virtio]]) expect(formatOf(stackProfiles(K612, pair))).toBe(NO_PROFILE);
    expect(stackProfiles(K612, [virtio])).toBe(NO_PROFILE);
  });
});

describe('a live device reloaded onto other disks', () => {
  it('before 6.11: refused when the new disks are alike but unlike the live profile; unregistered when they have none in common', () => {
    expect(reloadProfiles(K61, pi1, [pi3])).toEqual({ accepted: false, after: pi1 });
    expect(reloadProfiles(K61, pi1, [pi1k])).toEqual({ accepted: false, after: pi1 });
    expect(reloadProfiles(K61, pi1, [virtio])).toEqual({ accepted: true, after: NO_PROFILE });
    expect(reloadProfiles(K61, pi1, [pi1, pi3])).toEqual({ accepted: true, after: NO_PROFILE });
    expect(reloadProfiles(K61, pi1, [pi1])).toEqual({ accepted: true, after: pi1 });
    expect(reloadProfiles(K61, NO_PROFILE, [pi3])).toEqual({ accepted: true, after: pi3 });
  });

  it('from 6.11: always taken, the profile recomputed from the new disks', () => {
    expect(reloadProfiles(K612, pi1, [pi3])).toEqual({ accepted: true, after: { ...pi3 as object, capable: true } });
    expect(reloadProfiles(K612, pi1, [virtio])).toEqual({ accepted: true, after: NO_PROFILE });
  });
});

describe('sysfs attributes', () => {
  it('a profile shows its format, tag size, interval and capability; none shows zeros and no capability', () => {
    expect(profileAttributes(pi3)).toEqual({ format: 'T10-DIF-TYPE3-CRC', tag_size: '6', protection_interval_bytes: '512', device_is_integrity_capable: '1' });
    expect(profileAttributes(NO_PROFILE)).toEqual({ format: 'none', tag_size: '0', protection_interval_bytes: '0' });
  });
});
