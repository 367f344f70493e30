// The keys downloads are checked against. kernel.org: the release keys shipped in vm/keys/kernel.org/ (public
// keys; fingerprints and origin in docs/downloads.md), or the keyring file IH_KERNEL_ORG_KEYRING names.
// Ubuntu mainline: only a keyring the user names (IH_UBUNTU_MAINLINE_KEYRING); none is shipped.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../cache.ts';
import { binaryKeyring } from './gpgv.ts';

export const KERNEL_ORG_KEYS_DIR = join(repoRoot(), 'vm', 'keys', 'kernel.org');

/** The files that make up the kernel.org keyring (armored or binary). */
export function kernelOrgKeyFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.IH_KERNEL_ORG_KEYRING;
  if (custom !== undefined && custom !== '') return [custom];
  return readdirSync(KERNEL_ORG_KEYS_DIR).filter((f) => f.endsWith('.asc')).sort().map((f) => join(KERNEL_ORG_KEYS_DIR, f));
}

export async function kernelOrgKeyring(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return binaryKeyring(kernelOrgKeyFiles(env), cacheRoot);
}

/** The keyring for Ubuntu mainline's CHECKSUMS.gpg, when the user gave one. */
export async function ubuntuMainlineKeyring(cacheRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const custom = env.IH_UBUNTU_MAINLINE_KEYRING;
  return custom !== undefined && custom !== '' ? binaryKeyring([custom], cacheRoot) : undefined;
}
