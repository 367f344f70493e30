// A throwaway signing key for tests (gpg --quick-gen-key into a temporary GNUPGHOME): signs files the way
// kernel.org and Ubuntu do, and exports the public half as a keyring file for gpgv.
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export interface TestKey {
  home: string;
  fingerprint: string;
  /** Armored public key (what the repository ships for the real keys). */
  publicKey: string;
  clearsign(file: string, out: string): Promise<void>;
  detachSign(file: string, out: string): Promise<void>;
  remove(): Promise<void>;
}

export async function makeTestKey(uid: string): Promise<TestKey> {
  const home = mkdtempSync(join(tmpdir(), 'ih-gpg-'));
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (args: string[]) => execa('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { env });
  try {
    await gpg(['--quick-gen-key', uid, 'ed25519', 'sign', 'never']);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new Error('these tests make a signing key with gpg: apt-get install gpg', { cause: e });
    throw e;
  }
  const colons = (await gpg(['--with-colons', '--list-keys', uid])).stdout;
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  const publicKey = join(home, 'public.asc');
  await gpg(['--armor', '--output', publicKey, '--export', fingerprint]);
  return {
    home, fingerprint, publicKey,
    clearsign: async (file, out) => void await gpg(['--yes', '--local-user', fingerprint, '--output', out, '--clearsign', file]),
    detachSign: async (file, out) => void await gpg(['--yes', '--local-user', fingerprint, '--output', out, '--detach-sign', file]),
    remove: async () => {
      await execa('gpgconf', ['--kill', 'all'], { env, reject: false });
      await rm(home, { recursive: true, force: true });
    },
  };
}
