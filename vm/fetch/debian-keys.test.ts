import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRelease } from '../kernel/deb-index.ts';
import { VerificationError } from './errors.ts';
import { verifyClearsignedByAny } from './gpgv.ts';
import { debianArchiveKeyring } from './keyrings.ts';

// A Release Debian really signed (vm/fetch/fixtures/README.md), checked against the keys this repository ships:
// the only place here where a real archive signature meets the shipped keys.
const FIXTURE = new URL('./fixtures/debian-bookworm-updates-InRelease', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'ih-debian-keys-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the shipped Debian archive keyring on a real InRelease', () => {
  it('verifies it by the bookworm archive key although its trixie co-signer is not shipped, and yields only the signed text', async () => {
    const keyring = await debianArchiveKeyring(join(work, 'cache'), {});
    const good = await verifyClearsignedByAny(FIXTURE, 'https://deb.debian.org/debian/dists/bookworm-updates/InRelease', keyring, 'InRelease');
    expect(good.fingerprint).toBe('B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8');
    expect(good.signer).toBe('Debian Archive Automatic Signing Key (12/bookworm) <ftpmaster@debian.org>');
    expect(good.text.startsWith('Origin: Debian\n')).toBe(true);
    expect(good.text).not.toContain('BEGIN PGP');
    const rel = parseRelease(good.text);
    expect(rel).toMatchObject({ suite: 'oldstable-updates', codename: 'bookworm-updates' });
    expect(rel.sha256.get('main/binary-amd64/Packages.xz')?.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses it once one byte of the signed text changes', async () => {
    const keyring = await debianArchiveKeyring(join(work, 'cache'), {});
    const forged = join(work, 'InRelease');
    writeFileSync(forged, readFileSync(FIXTURE, 'utf8').replace('Codename: bookworm-updates', 'Codename: bookworm-updatez'));
    const err = await verifyClearsignedByAny(forged, 'https://deb.debian.org/debian/dists/bookworm-updates/InRelease', keyring, 'InRelease').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).kind).toBe('bad');
  });
});
