import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { debianArchiveKeyFiles, kernelOrgKeyFiles } from './keyrings.ts';

/** Fingerprint and user ID of the one public key in each file; fails on secret material or a misnamed file. */
async function keysIn(files: string[]): Promise<[string, string][]> {
  const seen: [string, string][] = [];
  const home = mkdtempSync(join(tmpdir(), 'ih-keys-'));
  for (const f of files) {
    const r = await execa('gpg', ['--with-colons', '--show-keys', f], { env: { ...process.env, GNUPGHOME: home } });
    const lines = r.stdout.split('\n');
    expect(lines.some((l) => l.startsWith('sec:') || l.startsWith('ssb:'))).toBe(false);
    expect(lines.filter((l) => l.startsWith('pub:'))).toHaveLength(1);
    // the primary key's fingerprint is the first fpr: line (revoker rvk: lines may come between)
    const fpr = lines.find((l) => l.startsWith('fpr:'))!.split(':')[9]!;
    expect(f.endsWith(`/${fpr}.asc`)).toBe(true);
    seen.push([fpr, lines.find((l) => l.startsWith('uid:'))!.split(':')[9]!]);
  }
  rmSync(home, { recursive: true, force: true });
  return seen.sort();
}

describe('the kernel.org keyring shipped in vm/keys/kernel.org', () => {
  it('holds exactly the release keys of Linus Torvalds and Greg Kroah-Hartman, public parts only, each file named by its fingerprint', async () => {
    expect((await keysIn(kernelOrgKeyFiles({}))).map(([f]) => f)).toEqual(['647F28654894E3BD457199BE38DBBDC86092693E', 'ABAF11C65A2970B130ABE3C479BE3E4300411886']);
  });

  it('is replaced by IH_KERNEL_ORG_KEYRING when that is set', () => {
    expect(kernelOrgKeyFiles({ IH_KERNEL_ORG_KEYRING: '/etc/my-keys.gpg' })).toEqual(['/etc/my-keys.gpg']);
  });

});

describe('the Debian archive keyring shipped in vm/keys/debian', () => {
  it('holds the archive and stable release keys that signed jessie- to bookworm-era Release files, public parts only, each named by its fingerprint', async () => {
    expect(await keysIn(debianArchiveKeyFiles({}))).toEqual([
      ['067E3C456BAE240ACEE88F6FEF0F382A1A7B6500', 'Debian Stable Release Key (9/stretch) <debian-release@lists.debian.org>'],
      ['126C0D24BD8A2942CC7DF8AC7638D0442B90D010', 'Debian Archive Automatic Signing Key (8/jessie) <ftpmaster@debian.org>'],
      ['1F89983E0081FDE018F3CC9673A4F27B8DD47936', 'Debian Archive Automatic Signing Key (11/bullseye) <ftpmaster@debian.org>'],
      ['4D64FEC119C2029067D6E791F8D2585B8783D481', 'Debian Stable Release Key (12/bookworm) <debian-release@lists.debian.org>'],
      ['6D33866EDD8FFA41C0143AEDDCC9EFBF77E11517', 'Debian Stable Release Key (10/buster) <debian-release@lists.debian.org>'],
      ['80D15823B7FD1561F9F7BCDDDC30D7C23CBBABEE', 'Debian Archive Automatic Signing Key (10/buster) <ftpmaster@debian.org>'],
      ['A4285295FC7B1A81600062A9605C66F00D6C9793', 'Debian Stable Release Key (11/bullseye) <debian-release@lists.debian.org>'],
      ['B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8', 'Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>'],
      ['E1CF20DDFFE4B89E802658F1E0B11894F66AEC98', 'Debian Archive Automatic Signing Key (9/stretch) <ftpmaster@debian.org>'],
    ]);
  });

  it('is replaced by IH_DEBIAN_ARCHIVE_KEYRING when that is set', () => {
    expect(debianArchiveKeyFiles({ IH_DEBIAN_ARCHIVE_KEYRING: '/usr/share/keyrings/debian-archive-keyring.gpg' })).toEqual(['/usr/share/keyrings/debian-archive-keyring.gpg']);
  });
});
