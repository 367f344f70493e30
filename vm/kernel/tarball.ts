// Kernel.org release tarballs the user placed in the cache (this harness never downloads from kernel.org):
// where they go, and the checks a tarball passes before it is unpacked and built.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { KernelUnavailableError } from './build-errors.ts';

export interface TarballEntry {
  /** The alias in vm/kernels.yaml ("4.13"). */
  alias: string;
  url: string;
  checksums: string;
}

export interface TarballFiles {
  tarball: string;
  checksums: string;
}

/**
 * Where a catalog tarball and its checksum list are looked for: the kernel.org path below /pub/linux/kernel/,
 * under <cache>/tarballs, so the two files keep kernel.org's names (every series has its own sha256sums.asc).
 */
export function tarballFiles(entry: TarballEntry, cacheRoot: string): TarballFiles {
  const local = (url: string): string => {
    const u = new URL(url);
    const rel = u.pathname.replace(/^\/pub\/linux\/kernel\//, '').replace(/^\/+/, '');
    return path.join(cacheRoot, 'tarballs', ...rel.split('/'));
  };
  return { tarball: local(entry.url), checksums: local(entry.checksums) };
}

export function tarballName(url: string): string {
  return new URL(url).pathname.split('/').at(-1)!;
}

/** The sha256 a checksum list (kernel.org's clear-signed sha256sums.asc) gives for one file name. */
export function checksumFor(list: string, name: string): string | undefined {
  for (const line of list.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m !== null && m[2] === name) return m[1];
  }
  return undefined;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type SignatureCheck =
  | { status: 'good'; detail: string }
  | { status: 'unchecked'; detail: string };

/**
 * Checks the clear-signed checksum list with gpg when the signer's key is in the user's keyring. Without gpg or
 * the key the list is still used (and the record says the signature was not checked); a bad signature stops.
 */
export async function checkSignature(checksums: string): Promise<SignatureCheck> {
  const r = await execa('gpg', ['--batch', '--status-fd', '1', '--verify', checksums], { reject: false, all: true });
  const status = String(r.stdout ?? '');
  if (r.failed && (r as { code?: string }).code === 'ENOENT') return { status: 'unchecked', detail: 'gpg is not installed' };
  if (/^\[GNUPG:\] BADSIG/m.test(status)) {
    throw new KernelUnavailableError(`${checksums}: BAD signature (gpg --verify ${checksums}); the checksum list was altered`);
  }
  const good = /^\[GNUPG:\] GOODSIG \S+ (.*)$/m.exec(status);
  if (r.exitCode === 0 && good !== null) return { status: 'good', detail: `good signature from ${good[1]}` };
  if (/^\[GNUPG:\] NO_PUBKEY/m.test(status)) {
    return { status: 'unchecked', detail: 'the signer\'s key is not in your gpg keyring (gpg --locate-keys torvalds@kernel.org gregkh@kernel.org)' };
  }
  if (/^\[GNUPG:\] NODATA/m.test(status)) return { status: 'unchecked', detail: 'the file carries no signature' };
  return { status: 'unchecked', detail: `gpg --verify exit ${r.exitCode}` };
}

export interface VerifiedTarball {
  tarball: string;
  sha256: string;
  signature: SignatureCheck;
}

/** Finds the tarball and its checksum list in the cache and checks one against the other. */
export async function verifyTarball(entry: TarballEntry, cacheRoot: string): Promise<VerifiedTarball> {
  const files = tarballFiles(entry, cacheRoot);
  const name = tarballName(entry.url);
  const list = await fs.readFile(files.checksums, 'utf8').catch(() => undefined);
  if (list === undefined) {
    throw new KernelUnavailableError(`--kernel ${entry.alias}: ${files.tarball} is there but its checksum list ${files.checksums} (from ${entry.checksums}) is not`);
  }
  const expected = checksumFor(list, name);
  if (expected === undefined) throw new KernelUnavailableError(`--kernel ${entry.alias}: ${files.checksums} has no sha256 line for ${name}`);
  const signature = await checkSignature(files.checksums);
  const actual = await sha256File(files.tarball);
  if (actual !== expected) {
    throw new KernelUnavailableError(
      `--kernel ${entry.alias}: ${files.tarball} has sha256 ${actual}, but ${files.checksums} says ${expected}: a truncated or different file; fetch it again from ${entry.url}`,
    );
  }
  return { tarball: files.tarball, sha256: actual, signature };
}

export async function tarballPresent(entry: TarballEntry, cacheRoot: string): Promise<boolean> {
  return fs.access(tarballFiles(entry, cacheRoot).tarball).then(() => true, () => false);
}
