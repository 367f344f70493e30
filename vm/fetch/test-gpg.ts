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

export interface TestKeyOptions {
  /**
   * Make the key and every signature at this past moment (gpg --faked-system-time, YYYYMMDDTHHMMSS) with this
   * lifetime (gpg's expire argument, e.g. 1y), for a key that has expired since it signed, as old archive keys have.
   */
  past?: { at: string; expire: string };
  /** A second key (this user ID) that co-signs everything, as Debian signs Release with two keys; not exported. */
  coSigner?: string;
}

export async function makeTestKey(uid: string, opts: TestKeyOptions = {}): Promise<TestKey> {
  const home = mkdtempSync(join(tmpdir(), 'ih-gpg-'));
  const env = { ...process.env, GNUPGHOME: home };
  const time = opts.past !== undefined ? ['--faked-system-time', opts.past.at] : [];
  const gpg = (args: string[]) => execa('gpg', ['--batch', '--quiet', '--pinentry-mode', 'loopback', '--passphrase', '', ...time, ...args], { env });
  const fingerprintOf = async (id: string) => /^fpr:+([0-9A-F]{40}):/m.exec((await gpg(['--with-colons', '--list-keys', id])).stdout)![1]!;
  try {
    await gpg(['--quick-gen-key', uid, 'ed25519', 'sign', opts.past?.expire ?? 'never']);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') throw new Error('these tests make a signing key with gpg: apt-get install gpg', { cause: e });
    throw e;
  }
  const fingerprint = await fingerprintOf(uid);
  const signers = ['--local-user', fingerprint];
  if (opts.coSigner !== undefined) {
    await gpg(['--quick-gen-key', opts.coSigner, 'ed25519', 'sign', 'never']);
    signers.push('--local-user', await fingerprintOf(opts.coSigner));
  }
  const publicKey = join(home, 'public.asc');
  await gpg(['--armor', '--output', publicKey, '--export', fingerprint]);
  return {
    home, fingerprint, publicKey,
    clearsign: async (file, out) => void await gpg(['--yes', ...signers, '--output', out, '--clearsign', file]),
    detachSign: async (file, out) => void await gpg(['--yes', ...signers, '--output', out, '--detach-sign', file]),
    remove: async () => {
      await execa('gpgconf', ['--kill', 'all'], { env, reject: false });
      await rm(home, { recursive: true, force: true });
    },
  };
}
