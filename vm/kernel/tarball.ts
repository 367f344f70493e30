// Kernel.org release tarballs in the cache (downloaded by vm/kernel/kernel-org.ts, or placed there by the
// user): where they go, and the checks a tarball passes before it is unpacked and built.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { VerificationError } from '../fetch/errors.ts';
import { verifyClearsigned, verifyDetachedOver } from '../fetch/gpgv.ts';
import { kernelOrgKeyring } from '../fetch/keyrings.ts';
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

/** kernel.org's detached signature of a release tarball: linux-4.13.16.tar.xz -> linux-4.13.16.tar.sign. */
export function signName(tarballFileName: string): string {
  return tarballFileName.replace(/\.tar\.[a-z0-9]+$/, '.tar.sign');
}

function decompress(tarball: string): [string, ...string[]] {
  return tarball.endsWith('.gz') ? ['gzip', '-dc', tarball] : ['xz', '-dc', tarball];
}

/**
 * Checks the clear-signed checksum list with gpgv against the kernel.org keyring (vm/keys/kernel.org or
 * IH_KERNEL_ORG_KEYRING); when the list's signer is not in it, the tarball's .tar.sign beside it, if any.
 * Returns the text to read checksums from: the signed part only, when the list's signature is good. A BAD
 * signature stops; a signature no key can judge is reported as unchecked.
 */
export async function checkSignature(checksums: string, tarball: string, cacheRoot: string): Promise<SignatureCheck & { text?: string }> {
  const bad = (e: unknown): never => {
    throw new KernelUnavailableError((e as Error).message);
  };
  let keyring: string;
  try {
    keyring = await kernelOrgKeyring(cacheRoot);
  } catch (e) {
    return { status: 'unchecked', detail: (e as Error).message };
  }
  let why: string;
  try {
    const g = await verifyClearsigned(checksums, checksums, keyring, checksums);
    return { status: 'good', detail: `${checksums} signed by ${g.signer} (${g.fingerprint})`, text: g.text };
  } catch (e) {
    if (!(e instanceof VerificationError) || e.kind === 'bad') bad(e);
    why = (e as Error).message;
  }
  const sign = path.join(path.dirname(tarball), signName(path.basename(tarball)));
  if (!(await fs.access(sign).then(() => true, () => false))) return { status: 'unchecked', detail: why };
  try {
    const g = await verifyDetachedOver(sign, decompress(tarball), sign, keyring, `${tarball} (${path.basename(sign)})`);
    return { status: 'good', detail: `${path.basename(sign)} by ${g.signer} (${g.fingerprint})` };
  } catch (e) {
    if (!(e instanceof VerificationError) || e.kind === 'bad') bad(e);
    return { status: 'unchecked', detail: `${why}; ${(e as Error).message}` };
  }
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
  const signature = await checkSignature(files.checksums, files.tarball, cacheRoot);
  const expected = checksumFor(signature.text ?? list, name);
  if (expected === undefined) throw new KernelUnavailableError(`--kernel ${entry.alias}: ${files.checksums} has no sha256 line for ${name}`);
  const actual = await sha256File(files.tarball);
  if (actual !== expected) {
    throw new KernelUnavailableError(
      `--kernel ${entry.alias}: ${files.tarball} has sha256 ${actual}, but ${files.checksums} says ${expected}: a truncated or different file; fetch it again from ${entry.url}`,
    );
  }
  return { tarball: files.tarball, sha256: actual, signature: { status: signature.status, detail: signature.detail } };
}

export async function tarballPresent(entry: TarballEntry, cacheRoot: string): Promise<boolean> {
  return fs.access(tarballFiles(entry, cacheRoot).tarball).then(() => true, () => false);
}
