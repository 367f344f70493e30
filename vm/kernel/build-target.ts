// Which image a kernel the harness builds is booted from. With CONFIG_PVH=y (vm/kconfig/base.config sets it)
// QEMU boots the uncompressed ELF vmlinux through its PVH entry note, so the build stops at vmlinux: no boot
// objects, no second misc.o, no gzip -9 of ~17 MB, no setup (~5 CPU s of a one-file rebuild), and the guest
// does not decompress itself at boot. A tree without the option (an older kernel, or a --kconfig that turns it
// off) is built and booted as a bzImage, as kernels users hand in are.

export interface BootTarget {
  /** The make target. */
  make: 'vmlinux' | 'bzImage';
  /** The file make leaves it in, relative to the build dir. */
  built: string;
  /** Its name in the published kernel directory. */
  published: 'vmlinux' | 'bzImage';
  /** For the build log. */
  why: string;
}

export const VMLINUX_TARGET: BootTarget = {
  make: 'vmlinux',
  built: 'vmlinux',
  published: 'vmlinux',
  why: 'CONFIG_PVH=y: QEMU boots the ELF vmlinux through its PVH entry point',
};

export const BZIMAGE_TARGET: BootTarget = {
  make: 'bzImage',
  built: 'arch/x86/boot/bzImage',
  published: 'bzImage',
  why: 'no CONFIG_PVH=y in the final .config: QEMU cannot boot the ELF vmlinux',
};

/** The target for a final .config. */
export function bootTarget(configText: string): BootTarget {
  return /^CONFIG_PVH=y$/m.test(configText) ? VMLINUX_TARGET : BZIMAGE_TARGET;
}

/** The published image's name from a cached kernel's meta.json, when it is one of ours. */
export function publishedImageName(meta: { bootImageName?: unknown }): BootTarget['published'] | undefined {
  const name = meta.bootImageName;
  return name === 'vmlinux' || name === 'bzImage' ? name : undefined;
}
