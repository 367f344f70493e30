import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_REQUIREMENTS, preflight } from '../../harness/preflight.ts';
import { KernelUnavailableError } from './build-errors.ts';
import { resolveSource } from './build-source.ts';
import { loadCatalog, tarballUnavailableMessage } from './catalog.ts';
import { makeTestKey } from '../fetch/test-gpg.ts';
import { checksumFor, checkSignature, sha256File, tarballFiles, verifyTarball, type TarballEntry } from './tarball.ts';

const root = mkdtempSync(join(tmpdir(), 'ih-tarball-'));
const entry: TarballEntry = {
  alias: '4.13',
  url: 'https://cdn.kernel.org/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz',
  checksums: 'https://cdn.kernel.org/pub/linux/kernel/v4.x/sha256sums.asc',
};
const files = tarballFiles(entry, root);
let sha = '';

beforeAll(async () => {
  await preflight({ requirements: BUILD_REQUIREMENTS });
  // A stand-in release tarball: one top-level directory with a Makefile, as kernel.org's have.
  const stage = join(root, 'stage', 'linux-4.13.16');
  mkdirSync(stage, { recursive: true });
  writeFileSync(join(stage, 'Makefile'), 'VERSION = 4\nPATCHLEVEL = 13\n');
  mkdirSync(join(files.tarball, '..'), { recursive: true });
  await execa('tar', ['-cJf', files.tarball, '-C', join(root, 'stage'), 'linux-4.13.16']);
  sha = await sha256File(files.tarball);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeList(text: string): void {
  writeFileSync(files.checksums, text);
}

describe('kernel.org tarballs placed in the cache', () => {
  it('are looked for under <cache>/tarballs with kernel.org\'s own path, so each series keeps its sha256sums.asc', () => {
    expect(files.tarball).toBe(join(root, 'tarballs', 'v4.x', 'linux-4.13.16.tar.xz'));
    expect(files.checksums).toBe(join(root, 'tarballs', 'v4.x', 'sha256sums.asc'));
    const msg = tarballUnavailableMessage({ kind: 'tarball', ...entry }, root);
    expect(msg).toContain(files.tarball);
    expect(msg).toContain('--kernel tree:');
  });

  it('reads the sha256 of one file from a clear-signed list', () => {
    const list = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${'a'.repeat(64)}  linux-4.13.15.tar.xz\n${'b'.repeat(64)}  linux-4.13.16.tar.xz\n-----BEGIN PGP SIGNATURE-----\n`;
    expect(checksumFor(list, 'linux-4.13.16.tar.xz')).toBe('b'.repeat(64));
    expect(checksumFor(list, 'linux-4.13.1.tar.xz')).toBeUndefined();
  });

  it('refuse a tarball whose sha256 is not the list\'s, naming both files', async () => {
    writeList(`${'0'.repeat(64)}  linux-4.13.16.tar.xz\n`);
    const err = await verifyTarball(entry, root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelUnavailableError);
    expect((err as Error).message).toContain(files.tarball);
    expect((err as Error).message).toContain(files.checksums);
    writeList(`${sha}  linux-4.13.15.tar.xz\n`);
    await expect(verifyTarball(entry, root)).rejects.toThrow(/has no sha256 line for linux-4\.13\.16\.tar\.xz/);
  });

  it('are unpacked once into the cache and built from there when the sha256 matches', async () => {
    writeList(`${sha}  linux-4.13.16.tar.xz\n`);
    const warnings: string[] = [];
    const src = await resolveSource({ kind: 'tarball', ...entry }, { cacheDir: root, warn: (m) => warnings.push(m), log: () => {} });
    expect(src.cacheOwned).toBe(true);
    expect(src.dir.startsWith(join(root, 'src'))).toBe(true);
    expect(readFileSync(join(src.dir, 'Makefile'), 'utf8')).toContain('PATCHLEVEL = 13');
    expect(src.description).toContain(sha.slice(0, 16));
    // An unsigned list is used, and the user is told the signature was not checked.
    expect(warnings.join('\n')).toMatch(/signature was not checked/);
    const again = await resolveSource({ kind: 'tarball', ...entry }, { cacheDir: root, warn: () => {}, log: () => {} });
    expect(again.key).toBe(src.key);
  });

  it('check the list\'s signature with gpgv against the kernel.org keyring: good when the signer is in it, a tampered list stops', async () => {
    const key = await makeTestKey('Kernel Test <kt@example.org>');
    writeList(`${sha}  linux-4.13.16.tar.xz\n`);
    await key.clearsign(files.checksums, `${files.checksums}.signed`);
    const signed = readFileSync(`${files.checksums}.signed`, 'utf8');
    const saved = process.env.IH_KERNEL_ORG_KEYRING;
    process.env.IH_KERNEL_ORG_KEYRING = key.publicKey;
    try {
      writeList(signed);
      expect(await checkSignature(files.checksums, files.tarball, root)).toMatchObject({ status: 'good', detail: expect.stringContaining('Kernel Test') });
      expect((await verifyTarball(entry, root)).signature.status).toBe('good');
      writeList(signed.replace(sha, sha.replace(/^./, (c) => (c === '0' ? '1' : '0'))));
      await expect(checkSignature(files.checksums, files.tarball, root)).rejects.toThrow(/BAD signature/);
      // The shipped keyring (kernel.org's release keys) does not hold the test key: unchecked, and it says which key.
      writeList(signed);
      delete process.env.IH_KERNEL_ORG_KEYRING;
      expect(await checkSignature(files.checksums, files.tarball, root)).toMatchObject({ status: 'unchecked', detail: expect.stringMatching(/not in the keyring/) });
    } finally {
      if (saved === undefined) delete process.env.IH_KERNEL_ORG_KEYRING;
      else process.env.IH_KERNEL_ORG_KEYRING = saved;
      await key.remove();
    }
  }, 60_000);

  it('every tarball alias of the catalog maps to a distinct tarball path', () => {
    const paths = [...loadCatalog().values()].flatMap((s) => (s.kind === 'tarball' ? [tarballFiles({ alias: s.alias, url: s.url, checksums: s.checksums }, root).tarball] : []));
    expect(new Set(paths).size).toBe(paths.length);
  });
});
