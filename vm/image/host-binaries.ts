import { constants, realpathSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';

/** Programs copied from the host into every guest, with the shared libraries ldd says they need. */
export const GUEST_PROGRAMS = ['integritysetup', 'cryptsetup', 'dmsetup', 'kmod'] as const;

/** glibc dlopens libgcc_s for pthread cancellation; ldd does not list it. */
const EXTRA_LIBS = ['/lib/x86_64-linux-gnu/libgcc_s.so.1'];

/**
 * The first executable regular file named program in dirs, as `command -v` finds it, without starting a
 * process (each process start costs ~50 ms on these machines).
 */
export async function findExecutable(program: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs.filter(Boolean)) {
    const path = join(dir, program);
    const ok = await access(path, constants.X_OK).then(() => stat(path).then((st) => st.isFile()), () => false);
    if (ok) return path;
  }
  return undefined;
}

export function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(':').filter(Boolean);
}

/** A program to copy into the guest: the sbin directories first (they may not be on a user's PATH). */
export async function which(program: string): Promise<string | undefined> {
  return findExecutable(program, ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...pathDirs()]);
}

/** Shared libraries of a dynamically linked ELF, as absolute host paths (including the ELF interpreter). */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const r = await execa('ldd', [binary], { reject: false });
  if (r.exitCode !== 0) {
    if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
    throw new InfraError(`ldd ${binary} failed: ${tail(r.stderr)}`);
  }
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = line.match(/=>\s+(\/\S+)/) ?? line.match(/^\s+(\/\S+)\s+\(/);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

export interface HostFile {
  /** Path inside the guest. */
  guestPath: string;
  /** Path on the host to copy from (symlinks resolved). */
  hostPath: string;
}

/** Every host file the guest needs for GUEST_PROGRAMS, deduplicated, libraries at their host paths. */
export async function hostFiles(): Promise<HostFile[]> {
  const out = new Map<string, HostFile>();
  const add = (guestPath: string, hostPath: string) => out.set(guestPath, { guestPath, hostPath: realpathSync(hostPath) });
  const found = await Promise.all(GUEST_PROGRAMS.map(async (p) => {
    const path = await which(p);
    if (path === undefined) throw new InfraError(`${p} not found on the host (preflight should have installed it)`);
    return { p, path, libs: await sharedLibraries(path) };
  }));
  for (const { p, path, libs } of found) {
    add(`/sbin/${p}`, path);
    for (const lib of libs) add(lib, lib);
  }
  for (const lib of EXTRA_LIBS) add(lib, lib);
  return [...out.values()];
}
