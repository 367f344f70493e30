import type { KernelCoverage } from './build.ts';

/** A kernel ready to boot: the image, its modules (if any), and where it came from. */
export interface ResolvedKernel {
  /** The --kernel text as the user wrote it. */
  spec: string;
  /** Short label for tables and cell ids, e.g. "6.1.0-56-amd64". */
  label: string;
  /**
   * What QEMU's -kernel gets: a bzImage (Debian packages, image: specs), or for kernels built here with
   * CONFIG_PVH=y the ELF vmlinux, which QEMU boots through its PVH entry point (vm/qemu/kernel-image.ts).
   */
  bootImage: string;
  /** Root of an unpacked module tree containing lib/modules/<release>/, or undefined for built-in-only kernels. */
  modulesRoot?: string;
  /** `uname -r` of the kernel when known before boot. */
  release?: string;
  /** Human-readable provenance: package name and version, image path, tree and commit. */
  source: string;
  /** Debian package version, git commit, ... */
  version?: string;
  /** Kernels built here: the build log (kept in the cache; the run copies it into its results). */
  buildLog?: string;
  /** The kernel's .config (a Debian package's boot/config-<release>, a build's .config), when there is one. */
  configPath?: string;
  /** Kernels built here: =y options of the Kconfig fragments that the final .config lacks. */
  missingOptions?: string[];
  /** Kernels built here with --coverage: where the notes of the profiled objects are (harness/coverage/). */
  coverage?: KernelCoverage;
}
