// The keys downloads are checked against. kernel.org: the release keys shipped in vm/keys/kernel.org/ (public
// keys; fingerprints and origin in docs/downloads.md), or the keyring file IH_KERNEL_ORG_KEYRING names.
// Ubuntu mainline: only a keyring the user names (IH_UBUNTU_MAINLINE_KEYRING); none is shipped.
// Debian snapshot: the archive signing keys shipped in vm/keys/debian/ (from Debian's debian-archive-keyring
// package), or the keyring file IH_DEBIAN_ARCHIVE_KEYRING names.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../cache.ts';
import { binaryKeyring } from './gpgv.ts';

export const KERNEL_ORG_KEYS_DIR = join(repoRoot(), 'vm', 'keys', 'kernel.org');
export const DEBIAN_KEYS_DIR = join(repoRoot(), 'vm', 'keys', 'debian');

function keyFiles(dir: string, custom: string | undefined): string[] {
  if (custom !== undefined && custom !== '') return [custom];
  return readdirSync(dir).filter((f) => f.endsWith('.asc')).sort().map((f) => join(dir, f));
}

/** The files that make up the kernel.org keyring (armored or binary). */
export function kernelOrgKeyFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return keyFiles(KERNEL_ORG_KEYS_DIR, env.IH_KERNEL_ORG_KEYRING);
}

/** The files that make up the Debian archive keyring (armored or binary). */
export function debianArchiveKeyFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  return keyFiles(DEBIAN_KEYS_DIR, env.IH_DEBIAN_ARCHIVE_KEYRING);
}

export async function debianArchiveKeyring(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return binaryKeyring(debianArchiveKeyFiles(env), cacheRoot);
}

export async function kernelOrgKeyring(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return binaryKeyring(kernelOrgKeyFiles(env), cacheRoot);
}

/** The keyring for Ubuntu mainline's CHECKSUMS.gpg, when the user gave one. */
export async function ubuntuMainlineKeyring(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const custom = env.IH_UBUNTU_MAINLINE_KEYRING;
  return custom !== undefined && custom !== '' ? binaryKeyring([custom], cacheRoot) : undefined;
}
