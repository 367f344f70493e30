import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveMirrors } from '../fetch/mirrors.ts';
import { makeTestKey, type TestKey } from '../fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../fetch/test-server.ts';
import { makeKernelDeb, writeSnapshotSuite } from './test-snapshot-archive.ts';
import { KernelUnavailableError } from './build-errors.ts';
import { loadCatalog } from './catalog.ts';
import { provideDownloadedKernel } from './download-kernel.ts';
import { noBuildOptions, withBuildOptions, type KernelSpec } from './spec.ts';

// A mirror without Debian's 4.13 snapshot and without Ubuntu's 4.13.16, with a kernel.org tarball whose checksum list is not signed and which has no
// .tar.sign: the order of the attempts shows in the requests, and nothing proves the tarball.
const root = mkdtempSync(join(tmpdir(), 'ih-download-kernel-'));
let server: MirrorServer;
let key: TestKey;
const saved = process.env.IH_CACHE_DIR;

beforeAll(async () => {
  mkdirSync(join(root, 'www', 'pub', 'linux', 'kernel', 'v4.x'), { recursive: true });
  mkdirSync(join(root, 'www', 'mainline'), { recursive: true });
  const tarball = Buffer.from('not a real tarball\n');
  writeFileSync(join(root, 'www', 'pub', 'linux', 'kernel', 'v4.x', 'linux-4.13.16.tar.xz'), tarball);
  writeFileSync(join(root, 'www', 'pub', 'linux', 'kernel', 'v4.x', 'sha256sums.asc'), `${createHash('sha256').update(tarball).digest('hex')}  linux-4.13.16.tar.xz\n`);
  // a snapshot suite signed by a key that is not among Debian's (vm/keys/debian)
  key = await makeTestKey('Not Debian <not-debian@example.org>');
  const deb = await makeKernelDeb(root, 'linux-image-4.13.0-1-amd64', '4.13.13-1', '4.13.0-1-amd64');
  await writeSnapshotSuite({
    archiveRoot: join(root, 'www', 'archive', 'debian'), timestamp: '20171125T000000Z', suite: 'experimental', key,
    debs: [{ file: deb, package: 'linux-image-4.13.0-1-amd64', version: '4.13.13-1' }],
  });
  server = await startMirrorServer(join(root, 'www'));
  process.env.IH_CACHE_DIR = join(root, 'cache');
}, 60_000);
afterAll(async () => {
  await server.close();
  await key.remove();
  if (saved === undefined) delete process.env.IH_CACHE_DIR;
  else process.env.IH_CACHE_DIR = saved;
  await rm(root, { recursive: true, force: true });
});

const src = () => {
  const s = loadCatalog().get('4.13');
  if (s?.kind !== 'tarball') throw new Error('4.13 must be a kernel.org release in vm/kernels.yaml');
  return s;
};
const mirrors = () => resolveMirrors({}, { 'kernel.org': `${server.url}/pub/linux/kernel`, 'ubuntu-mainline': `${server.url}/mainline`, 'debian-snapshot': `${server.url}/archive/debian` });
const spec = (): Extract<KernelSpec, { kind: 'tarball' }> => ({ kind: 'tarball', text: '4.13', version: '4.13', build: noBuildOptions() });

describe('provideDownloadedKernel', () => {
  it('tries the Debian snapshot (InRelease, then Release), Ubuntu mainline (amd64/, then the version directory), then kernel.org; a list nothing proves is refused before the tarball', async () => {
    server.requests.length = 0;
    const lines: string[] = [];
    const err = await provideDownloadedKernel(spec(), src(), { mirrors: mirrors(), log: (l) => lines.push(l) }).catch((e: unknown) => e);
    expect(server.requests.map((r) => r.path)).toEqual([
      '/archive/debian/20171125T000000Z/dists/unstable/InRelease', '/archive/debian/20171125T000000Z/dists/unstable/Release',
      '/mainline/v4.13.16/amd64/', '/mainline/v4.13.16/', '/pub/linux/kernel/v4.x/sha256sums.asc',
      '/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz', '/pub/linux/kernel/v4.x/linux-4.13.16.tar.sign',
    ]);
    expect(lines[0]).toMatch(/^no prebuilt kernel from the Debian snapshot archive \(not in the archive\): .*\/dists\/unstable\/Release: HTTP 404.*; trying Ubuntu mainline$/);
    expect(lines[1]).toMatch(/^no prebuilt kernel from Ubuntu mainline \(not in the archive\): .*\/mainline\/v4\.13\.16\/: the Ubuntu mainline archive has no such release.*; trying the kernel\.org source$/);
    expect(err).toBeInstanceOf(KernelUnavailableError);
    expect((err as KernelUnavailableError).short).toMatch(/^its download failed verification: linux-4\.13\.16\.tar\.xz: its sha256 matches sha256sums\.asc, but nothing proves where it came from/);
    // nothing was placed where the build would take it from
    expect(existsSync(join(root, 'cache', 'tarballs', 'v4.x', 'linux-4.13.16.tar.xz'))).toBe(false);
  });

  it('stops at a prebuilt package that fails its check (here: a Release signed by a key Debian does not use), trying no other source', async () => {
    server.requests.length = 0;
    const s = src();
    const err = await provideDownloadedKernel(spec(), { ...s, debianSnapshot: { ...s.debianSnapshot!, suite: 'experimental' } }, { mirrors: mirrors() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelUnavailableError);
    expect((err as KernelUnavailableError).short).toMatch(
      /^its download failed verification: InRelease \(from http:\/\/127\.0\.0\.1:\d+\/archive\/debian\/20171125T000000Z\/dists\/experimental\/InRelease\): signed by key [0-9A-F]{16}, which is not in the keyring /);
    expect(server.requests.map((r) => r.path)).toEqual(['/archive/debian/20171125T000000Z/dists/experimental/InRelease']);
  });

  it('goes straight to the source when the kernel is to be built with options (--make-arg)', async () => {
    server.requests.length = 0;
    const withArgs = withBuildOptions(spec(), { ...noBuildOptions(), makeArgs: ['HOSTCFLAGS=-fcommon'] }) as Extract<KernelSpec, { kind: 'tarball' }>;
    await provideDownloadedKernel(withArgs, src(), { mirrors: mirrors() }).catch(() => undefined);
    expect(server.requests[0]!.path).toBe('/pub/linux/kernel/v4.x/sha256sums.asc');
    expect(server.requests.some((r) => r.path.startsWith('/mainline/') || r.path.startsWith('/archive/'))).toBe(false);
  });
});
