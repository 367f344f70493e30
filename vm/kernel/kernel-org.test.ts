import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerificationError } from '../fetch/errors.ts';
import { resolveMirrors } from '../fetch/mirrors.ts';
import { sha256File } from '../fetch/store.ts';
import { makeTestKey, type TestKey } from '../fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../fetch/test-server.ts';
import { resolveSource } from './build-source.ts';
import { fetchKernelOrgTarball } from './kernel-org.ts';
import { tarballFiles, verifyTarball, type TarballEntry } from './tarball.ts';

// kernel.org's layout on a 127.0.0.1 mirror: /pub/linux/kernel/v4.x/{linux-4.13.16.tar.xz, .tar.sign, sha256sums.asc}.
const root = mkdtempSync(join(tmpdir(), 'ih-kernel-org-'));
const series = join(root, 'www', 'pub', 'linux', 'kernel', 'v4.x');
const entry: TarballEntry = {
  alias: '4.13',
  url: 'https://cdn.kernel.org/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz',
  checksums: 'https://cdn.kernel.org/pub/linux/kernel/v4.x/sha256sums.asc',
};
let server: MirrorServer;
let release: TestKey; // stands in for Torvalds / Kroah-Hartman (signs .tar.sign)
let autosigner: TestKey; // stands in for kernel.org's checksum autosigner (signs sha256sums.asc)
let sha = '';
const tarball = join(series, 'linux-4.13.16.tar.xz');

async function signList(key: TestKey, text: string): Promise<void> {
  writeFileSync(join(root, 'list.txt'), text);
  await key.clearsign(join(root, 'list.txt'), join(series, 'sha256sums.asc'));
}

beforeAll(async () => {
  const stage = join(root, 'stage', 'linux-4.13.16');
  mkdirSync(stage, { recursive: true });
  mkdirSync(series, { recursive: true });
  writeFileSync(join(stage, 'Makefile'), 'VERSION = 4\nPATCHLEVEL = 13\nSUBLEVEL = 16\n');
  await execa('tar', ['-cf', join(root, 'linux-4.13.16.tar'), '-C', join(root, 'stage'), 'linux-4.13.16']);
  await execa('xz', ['-k', '-c', join(root, 'linux-4.13.16.tar')], { stdout: { file: tarball } });
  sha = await sha256File(tarball);
  [release, autosigner] = await Promise.all([makeTestKey('Release Test <rel@example.org>'), makeTestKey('Autosigner Test <auto@example.org>')]);
  await release.detachSign(join(root, 'linux-4.13.16.tar'), join(series, 'linux-4.13.16.tar.sign'));
  server = await startMirrorServer(join(root, 'www'));
}, 60_000);
afterAll(async () => {
  await server.close();
  await Promise.all([release.remove(), autosigner.remove()]);
  await rm(root, { recursive: true, force: true });
});

function fetchInto(cache: string, keyring: string) {
  const mirrors = resolveMirrors({}, { 'kernel.org': `${server.url}/pub/linux/kernel` });
  return fetchKernelOrgTarball(entry, { mirrors, cacheRoot: cache, env: { IH_KERNEL_ORG_KEYRING: keyring } });
}

describe('fetchKernelOrgTarball (kernel.org layout on a 127.0.0.1 mirror)', () => {
  it('downloads list, tarball and .tar.sign, checks all three and places the tarball where the build reads it', async () => {
    await signList(release, `${sha}  linux-4.13.16.tar.xz\n`);
    const cache = join(root, 'c1');
    const got = await fetchInto(cache, release.publicKey);
    const files = tarballFiles(entry, cache);
    expect(got.tarball).toBe(files.tarball);
    expect(got.proof).toContain(`sha256sums.asc signed by Release Test <rel@example.org> (${release.fingerprint})`);
    expect(got.proof).toContain(`.tar.sign by Release Test <rel@example.org> (${release.fingerprint})`);
    expect(readFileSync(files.tarball).equals(readFileSync(tarball))).toBe(true);
    expect(server.requests.map((r) => r.path)).toEqual(expect.arrayContaining([
      '/pub/linux/kernel/v4.x/sha256sums.asc', '/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz', '/pub/linux/kernel/v4.x/linux-4.13.16.tar.sign',
    ]));
    // the build's own check sees the same proof
    const saved = process.env.IH_KERNEL_ORG_KEYRING;
    process.env.IH_KERNEL_ORG_KEYRING = release.publicKey;
    try {
      expect((await verifyTarball(entry, cache)).signature.status).toBe('good');
      // and the build's source step unpacks it, with the proof in its description
      const warnings: string[] = [];
      const src = await resolveSource({ kind: 'tarball', ...entry }, { cacheDir: cache, warn: (m) => warnings.push(m), log: () => {} });
      expect(readFileSync(join(src.dir, 'Makefile'), 'utf8')).toContain('SUBLEVEL = 16');
      expect(src.description).toContain(`signed by Release Test <rel@example.org> (${release.fingerprint})`);
      expect(warnings).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.IH_KERNEL_ORG_KEYRING;
      else process.env.IH_KERNEL_ORG_KEYRING = saved;
    }
  }, 60_000);

  it('takes the .tar.sign as proof when the list\'s signer is not in the keyring (as with kernel.org\'s autosigner)', async () => {
    await signList(autosigner, `${sha}  linux-4.13.16.tar.xz\n`);
    const got = await fetchInto(join(root, 'c2'), release.publicKey);
    expect(got.proof).toBe(`.tar.sign by Release Test <rel@example.org> (${release.fingerprint})`);
  }, 60_000);

  it('refuses when nothing proves the origin: neither signer is in the keyring', async () => {
    await signList(autosigner, `${sha}  linux-4.13.16.tar.xz\n`);
    const cache = join(root, 'c3');
    const other = await makeTestKey('Other <o@example.org>');
    try {
      const err = await fetchInto(cache, other.publicKey).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toMatch(/linux-4\.13\.16\.tar\.xz: its sha256 matches sha256sums\.asc, but nothing proves where it came from.*IH_KERNEL_ORG_KEYRING/);
      expect(existsSync(tarballFiles(entry, cache).tarball)).toBe(false);
    } finally {
      await other.remove();
    }
  }, 60_000);

  it('refuses a checksum list whose signature is BAD (altered after signing), before downloading the tarball', async () => {
    await signList(release, `${sha}  linux-4.13.16.tar.xz\n`);
    const asc = join(series, 'sha256sums.asc');
    const good = readFileSync(asc, 'utf8');
    writeFileSync(asc, good.replace(sha, '0'.repeat(64)));
    const cache = join(root, 'c4');
    server.requests.length = 0;
    try {
      const err = await fetchInto(cache, release.publicKey).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toMatch(/^sha256sums\.asc: BAD signature \(from http:\/\/127\.0\.0\.1:\d+\/pub\/linux\/kernel\/v4\.x\/sha256sums\.asc\)/);
      expect(server.requests.map((r) => r.path)).toEqual(['/pub/linux/kernel/v4.x/sha256sums.asc']);
      expect(existsSync(tarballFiles(entry, cache).tarball)).toBe(false);
    } finally {
      writeFileSync(asc, good);
    }
  }, 60_000);

  it('refuses a tampered tarball: the message names the file, the URL, the expected and the actual sha256', async () => {
    await signList(release, `${sha}  linux-4.13.16.tar.xz\n`);
    const original = readFileSync(tarball);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 100]! ^= 0xff;
    writeFileSync(tarball, tampered);
    const cache = join(root, 'c5');
    try {
      const err = await fetchInto(cache, release.publicKey).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/^linux-4\.13\.16\.tar\.xz: sha256 mismatch for http:\/\/127\.0\.0\.1:\d+\/pub\/linux\/kernel\/v4\.x\/linux-4\.13\.16\.tar\.xz/);
      expect(msg).toContain(`expected ${sha} (sha256sums.asc at http://127.0.0.1:`);
      expect(msg).toContain(`got ${await sha256File(tarball)}`);
      expect(existsSync(tarballFiles(entry, cache).tarball)).toBe(false);
    } finally {
      writeFileSync(tarball, original);
    }
  }, 60_000);
});
