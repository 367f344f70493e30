import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import { findExecutable, pathDirs } from '../vm/image/host-binaries.ts';
import { UsageError, InfraError, tail } from './errors.ts';

/** A host tool the harness needs, and the Debian package that provides it. */
export interface Requirement {
  what: string;
  /** Resolves true when present and usable. */
  check: () => Promise<boolean>;
  pkg: string;
}

async function onPath(cmd: string): Promise<boolean> {
  return (await findExecutable(cmd, pathDirs())) !== undefined;
}

/** busybox must be the static build: the guest has no libc of busybox's own. */
async function staticBusybox(): Promise<boolean> {
  const r = await execa('ldd', ['/bin/busybox'], { reject: false });
  return /not a dynamic executable|statically linked/.test(`${r.stdout}${r.stderr}`);
}

export const REQUIREMENTS: Requirement[] = [
  { what: 'qemu-system-x86_64', check: () => onPath('qemu-system-x86_64'), pkg: 'qemu-system-x86' },
  { what: 'integritysetup', check: () => onPath('integritysetup'), pkg: 'cryptsetup-bin' },
  { what: 'cryptsetup', check: () => onPath('cryptsetup'), pkg: 'cryptsetup-bin' },
  { what: 'dmsetup', check: () => onPath('dmsetup'), pkg: 'dmsetup' },
  { what: 'static busybox (/bin/busybox)', check: staticBusybox, pkg: 'busybox-static' },
  { what: 'cpio', check: () => onPath('cpio'), pkg: 'cpio' },
  { what: 'kmod (modprobe, depmod)', check: () => onPath('depmod'), pkg: 'kmod' },
  { what: 'gcc (builds the guest agent)', check: () => onPath('gcc'), pkg: 'gcc' },
  { what: 'static libc (libc.a)', check: () => fileExists('/usr/lib/x86_64-linux-gnu/libc.a'), pkg: 'libc6-dev' },
  { what: 'apt-get download / dpkg-deb', check: () => onPath('dpkg-deb'), pkg: 'dpkg' },
];

async function fileExists(path: string): Promise<boolean> {
  return stat(path).then((st) => st.isFile(), () => false);
}

/** What building a kernel from source (--kernel src:/tree:) needs besides the above. */
export const BUILD_REQUIREMENTS: Requirement[] = [
  { what: 'make', check: () => onPath('make'), pkg: 'build-essential' },
  { what: 'bc', check: () => onPath('bc'), pkg: 'bc' },
  { what: 'flex', check: () => onPath('flex'), pkg: 'flex' },
  { what: 'bison', check: () => onPath('bison'), pkg: 'bison' },
  { what: 'libelf headers (objtool)', check: () => fileExists('/usr/include/gelf.h'), pkg: 'libelf-dev' },
  { what: 'OpenSSL headers (sign-file, certs)', check: () => fileExists('/usr/include/openssl/opensslv.h'), pkg: 'libssl-dev' },
  { what: 'GNU patch (--patch)', check: () => onPath('patch'), pkg: 'patch' },
  { what: 'xz (linux-source tarballs)', check: () => onPath('xz'), pkg: 'xz-utils' },
  { what: 'git (tree: kernels)', check: () => onPath('git'), pkg: 'git' },
  { what: 'gpgv (signatures of downloaded kernels and kernel.org checksum lists)', check: () => onPath('gpgv'), pkg: 'gpgv' },
];

/** What --coverage needs besides a build: lcov's geninfo (runs the compiler's gcov), lcov and genhtml. */
export const COVERAGE_REQUIREMENTS: Requirement[] = [
  { what: 'geninfo (--coverage)', check: () => onPath('geninfo'), pkg: 'lcov' },
  { what: 'genhtml (--coverage)', check: () => onPath('genhtml'), pkg: 'lcov' },
  { what: 'gcov (--coverage)', check: () => onPath('gcov'), pkg: 'gcc' },
];

export interface PreflightResult {
  installed: string[];
}

/**
 * Checks the host tools; as root, installs missing ones with apt-get (saying so on stderr), otherwise
 * stops with the exact command to run.
 */
export async function preflight(opts: { log?: (line: string) => void; requirements?: Requirement[] } = {}): Promise<PreflightResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const reqs = opts.requirements ?? REQUIREMENTS;
  const present = await Promise.all(reqs.map((r) => r.check()));
  const missing = reqs.filter((_, i) => !present[i]);
  if (missing.length === 0) return { installed: [] };
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const line = `apt-get install -y ${pkgs.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new UsageError(`missing on this host: ${missing.map((m) => m.what).join(', ')}. Run as root: apt-get update && ${line}`);
  }
  log(`preflight: installing ${pkgs.join(' ')} (missing: ${missing.map((m) => m.what).join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await execa('apt-get', ['update', '-q'], { reject: false, env });
  const r = await execa('apt-get', ['install', '-y', '-q', ...pkgs], { reject: false, env });
  if (r.exitCode !== 0) throw new InfraError(`'${line}' failed (exit ${r.exitCode}): ${tail(r.stderr || r.stdout)}`);
  const still = [];
  for (const m of missing) if (!(await m.check())) still.push(m.what);
  if (still.length > 0) throw new InfraError(`after '${line}' still missing: ${still.join(', ')}`);
  return { installed: pkgs };
}
