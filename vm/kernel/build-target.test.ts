import { describe, expect, it } from 'vitest';
import { bootTarget, publishedImageName } from './build-target.ts';

describe('bootTarget', () => {
  it('stops at vmlinux when the final .config has CONFIG_PVH=y', () => {
    const t = bootTarget('CONFIG_64BIT=y\nCONFIG_HYPERVISOR_GUEST=y\nCONFIG_PVH=y\n# CONFIG_XEN is not set\n');
    expect(t).toMatchObject({ make: 'vmlinux', built: 'vmlinux', published: 'vmlinux' });
  });

  it('builds a bzImage when the option is off or unknown to the tree', () => {
    for (const config of ['CONFIG_64BIT=y\n# CONFIG_PVH is not set\n', 'CONFIG_64BIT=y\n', 'CONFIG_XEN_PVH=y\nCONFIG_PVH_X=y\n']) {
      expect(bootTarget(config)).toMatchObject({ make: 'bzImage', built: 'arch/x86/boot/bzImage', published: 'bzImage' });
    }
  });
});

describe('publishedImageName', () => {
  it('takes only the names the builder publishes (an entry without one is not reused)', () => {
    expect(publishedImageName({ bootImageName: 'vmlinux' })).toBe('vmlinux');
    expect(publishedImageName({ bootImageName: 'bzImage' })).toBe('bzImage');
    expect(publishedImageName({})).toBeUndefined();
    expect(publishedImageName({ bootImageName: '../x' })).toBeUndefined();
  });
});
