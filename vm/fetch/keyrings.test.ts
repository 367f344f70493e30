import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { kernelOrgKeyFiles } from './keyrings.ts';

describe('the kernel.org keyring shipped in vm/keys/kernel.org', () => {
  it('holds exactly the release keys of Linus Torvalds and Greg Kroah-Hartman, public parts only, each file named by its fingerprint', async () => {
    const files = kernelOrgKeyFiles({});
    const seen: string[] = [];
    const home = mkdtempSync(join(tmpdir(), 'ih-keys-'));
    for (const f of files) {
      const r = await execa('gpg', ['--with-colons', '--show-keys', f], { env: { ...process.env, GNUPGHOME: home } });
      const lines = r.stdout.split('\n');
      expect(lines.some((l) => l.startsWith('sec:'))).toBe(false);
      const fpr = lines[lines.findIndex((l) => l.startsWith('pub:')) + 1]!.split(':')[9]!;
      expect(f.endsWith(`/${fpr}.asc`)).toBe(true);
      seen.push(fpr);
    }
    rmSync(home, { recursive: true, force: true });
    expect(seen.sort()).toEqual(['647F28654894E3BD457199BE38DBBDC86092693E', 'ABAF11C65A2970B130ABE3C479BE3E4300411886']);
  });

  it('is replaced by IH_KERNEL_ORG_KEYRING when that is set', () => {
    expect(kernelOrgKeyFiles({ IH_KERNEL_ORG_KEYRING: '/etc/my-keys.gpg' })).toEqual(['/etc/my-keys.gpg']);
  });
});
