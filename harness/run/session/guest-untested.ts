/**
 * Told apart in the booted guest: a kernel that legitimately lacks what a scenario needs (the cell is `skip`)
 * from a guest that failed to provide what the kernel has (the kernel is untested, harness/untested.ts).
 *
 * - Modules: vm/image/init.sh modprobes the boot modules (vm/image/modules.ts, BOOT_MODULES: only those the
 *   kernel has as modules) and writes each one that failed, with modprobe's words, to MODULES_FAILED. Any
 *   line there means the guest is not the one the stacks were meant to run in: untested.
 * - Ciphers: the image ships every crypto module of the kernel (kernel/crypto, arch/x86/crypto, lib/crypto),
 *   so an algorithm that is not available is the kernel's configuration lacking it when some piece of its
 *   name (gcm, aes, hmac, sha256, ...) has no module in the image and is not built in (`modprobe -n` finds
 *   no crypto-<piece>): `skip`. When every piece is there, the guest failed to load it: untested.
 */
import { KernelUntested } from '../../untested.ts';
import type { GuestSession } from './cell.ts';

/** Written by vm/image/init.sh: one "<module>: <modprobe's message>" line per boot module that did not load. */
export const MODULES_FAILED = '/run/ih-modules-failed';

/** Throws KernelUntested when the guest's init could not load a boot module. */
export async function checkGuestModules(s: GuestSession): Promise<void> {
  const r = await s.runOnce(['cat', MODULES_FAILED]);
  // cat exits 1 when the marker is absent: every module loaded (or the kernel has them built in)
  if (r.exitCode !== 0) return;
  const lines = r.stdout.toString().split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) return;
  throw new KernelUntested(`the guest could not load module(s) the stacks need (vm/image/init.sh, ${MODULES_FAILED}): ${lines.join('; ')}`);
}

/** Words of cipher specs that name no crypto module: IV generators, dm-crypt's and cryptsetup's own words. */
const NOT_ALGORITHMS = new Set(['capi', 'plain', 'plain64', 'plain64be', 'essiv', 'benbi', 'null', 'random', 'lmk', 'tcw', 'eboiv', 'elephant', 'aead', 'none']);

/**
 * The crypto algorithm names inside a kernel crypto API name or a cipher spec:
 * "gcm(aes)" -> gcm, aes; "capi:authenc(hmac(sha256),cbc(aes))-random" -> authenc, hmac, sha256, cbc, aes;
 * cryptsetup's "aes-xts-plain64" -> aes, xts.
 */
export function algorithmPieces(spec: string): string[] {
  const words = spec.split(/[^A-Za-z0-9_]+/).map((w) => w.toLowerCase()).filter((w) => w !== '' && !/^\d+$/.test(w));
  return [...new Set(words.filter((w) => !NOT_ALGORITHMS.has(w)))];
}

/**
 * For an algorithm (or cipher spec) the guest could not use: returns the skip reason when the kernel lacks a
 * piece of it; throws KernelUntested when the kernel provides every piece (a module in the image, or built in).
 */
export async function unavailableAlgorithm(s: GuestSession, spec: string): Promise<string> {
  const pieces = algorithmPieces(spec);
  const lacking: string[] = [];
  for (const p of pieces) {
    const r = await s.runOnce(['modprobe', '-n', '-q', `crypto-${p}`]);
    if (r.exitCode !== 0) lacking.push(p);
  }
  if (lacking.length > 0 || pieces.length === 0) {
    return `kernel lacks ${lacking.length > 0 ? lacking.join(', ') : spec} (no module in the image and nothing built in provides ${lacking.map((p) => `crypto-${p}`).join(', ') || spec})`;
  }
  throw new KernelUntested(
    `${spec} is not available in the guest although the kernel provides ${pieces.map((p) => `crypto-${p}`).join(', ')} (modprobe -n finds each): a module did not load`,
  );
}
