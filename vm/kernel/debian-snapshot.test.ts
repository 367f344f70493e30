import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, VerificationError } from '../fetch/errors.ts';
import { resolveMirrors } from '../fetch/mirrors.ts';
import { makeTestKey, type TestKey } from '../fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../fetch/test-server.ts';
import type { DebianSnapshotEntry } from './catalog.ts';
import { findPackage, parseRelease } from './deb-index.ts';
import { fetchDebianArchive, fetchDebianSnapshot, snapshotCacheDir } from './debian-snapshot.ts';
import { makeKernelDeb, writeSnapshotSuite } from './test-snapshot-archive.ts';

// snapshot.debian.org's layout on 127.0.0.1: /archive/debian/20171125T000000Z/{dists/unstable,pool/main/l/linux}/,
// with the kernel of the catalog entry beside decoys (another version, the -dbg package, i386), signed as Debian
// signs: by two keys at once, the one in the keyring having expired since it signed (as 2017's archive keys have).
const root = mkdtempSync(join(tmpdir(), 'ih-snapshot-'));
const archive = join(root, 'www', 'archive', 'debian');
const TS = '20171125T000000Z';
const PKG = 'linux-image-4.13.0-1-amd64';
const REL = '4.13.0-1-amd64';
const entry: DebianSnapshotEntry = { timestamp: TS, suite: 'unstable', package: PKG, version: '4.13.13-1' };
let server: MirrorServer;
let key: TestKey;
let other: TestKey;
let dists = '';
let debFile = '';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  key = await makeTestKey('Debian Archive Test Key (9/stretch) <ftpmaster@example.org>', {
    past: { at: '20170601T000000', expire: '2y' }, coSigner: 'Debian Archive Test Key (8/jessie) <ftpmaster@example.org>',
  });
  other = await makeTestKey('Someone Else <else@example.org>');
  debFile = await makeKernelDeb(root, PKG, '4.13.13-1', REL);
  const older = await makeKernelDeb(root, PKG, '4.13.10-1', REL);
  const dbg = await makeKernelDeb(root, `${PKG}-dbg`, '4.13.13-1', REL);
  dists = await writeSnapshotSuite({
    archiveRoot: archive, timestamp: TS, suite: 'unstable', codename: 'sid', key,
    debs: [
      { file: older, package: PKG, version: '4.13.10-1' },
      { file: dbg, package: `${PKG}-dbg`, version: '4.13.13-1' },
      { file: older, package: PKG, version: '4.13.13-1', architecture: 'i386' },
      { file: debFile, package: PKG, version: '4.13.13-1' },
    ],
  });
  // a second suite with only Release + Release.gpg (no InRelease), as older snapshots have
  const buster = await writeSnapshotSuite({ archiveRoot: archive, timestamp: TS, suite: 'buster', key, debs: [{ file: debFile, package: PKG, version: '4.13.13-1' }] });
  await rm(join(buster, 'InRelease'));
  server = await startMirrorServer(join(root, 'www'));
}, 120_000);
afterAll(async () => {
  await server?.close();
  await key?.remove();
  await other?.remove();
  await rm(root, { recursive: true, force: true });
});

const mirrors = () => resolveMirrors({}, { 'debian-snapshot': `${server.url}/archive/debian` });
const env = () => ({ IH_DEBIAN_ARCHIVE_KEYRING: key.publicKey });
const base = () => `${server.url}/archive/debian/${TS}`;

/** Replaces a served file for one test, then puts the original back. */
async function withFile<T>(file: string, bytes: Buffer | string, run: () => Promise<T>): Promise<T> {
  const original = readFileSync(file);
  writeFileSync(file, bytes);
  try {
    return await run();
  } finally {
    writeFileSync(file, original);
  }
}

describe('Debian indexes', () => {
  it('Release gives the sha256 and size of each index; Packages the pool path and sha256 of one package version and architecture', () => {
    const rel = parseRelease(readFileSync(join(dists, 'Release'), 'utf8'));
    expect(rel).toMatchObject({ suite: 'unstable', codename: 'sid' });
    const xz = readFileSync(join(dists, 'main', 'binary-amd64', 'Packages.xz'));
    expect(rel.sha256.get('main/binary-amd64/Packages.xz')).toEqual({ sha256: sha256(xz), size: xz.length });
    const packages = readFileSync(join(dists, 'main', 'binary-amd64', 'Packages'), 'utf8');
    expect(findPackage(packages, PKG, '4.13.13-1')).toEqual({
      filename: `pool/main/l/linux/${PKG}_4.13.13-1_amd64.deb`, sha256: sha256(readFileSync(debFile)), size: readFileSync(debFile).length,
    });
    expect(findPackage(packages, PKG, '4.13.13-1', 'i386')?.filename).toBe(`pool/main/l/linux/${PKG}_4.13.13-1_i386.deb`);
    expect(findPackage(packages, PKG, '4.13.4-2')).toBeUndefined();
  });
});

describe('fetchDebianSnapshot (127.0.0.1 stand-in for snapshot.debian.org)', () => {
  it('checks InRelease (one of two signers known, its key expired since), Packages.xz and the .deb, unpacks it; a second call needs no network', async () => {
    const cache = join(root, 'c1');
    server.requests.length = 0;
    const k = await fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: cache, env: env() });
    expect(k).toMatchObject({ spec: '4.13', release: REL, label: REL, version: '4.13.13-1' });
    expect(readFileSync(k.bootImage, 'utf8')).toBe('not really a kernel (4.13.13-1)\n');
    expect(k.configPath).toBe(join(snapshotCacheDir(cache, entry), 'root', 'boot', `config-${REL}`));
    expect(existsSync(join(k.modulesRoot!, 'lib', 'modules', REL, 'kernel', 'drivers', 'md', 'dm-integrity.ko'))).toBe(true);
    expect(k.source).toBe(`debian-snapshot:${PKG}=4.13.13-1 (unstable at ${TS}) (${PKG}_4.13.13-1_amd64.deb from ${base()}/; ` +
      `sha256 as in unstable's Packages; Release signed by Debian Archive Test Key (9/stretch) <ftpmaster@example.org> (${key.fingerprint}))`);
    expect(server.requests.map((r) => r.path)).toEqual([
      `/archive/debian/${TS}/dists/unstable/InRelease`,
      `/archive/debian/${TS}/dists/unstable/main/binary-amd64/Packages.xz`,
      `/archive/debian/${TS}/pool/main/l/linux/${PKG}_4.13.13-1_amd64.deb`,
    ]);
    const before = server.requests.length;
    const again = await fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: cache, env: env() });
    expect(again).toEqual(k);
    expect(server.requests.length).toBe(before);
  });

  it('reads Release with its detached Release.gpg where the suite has no InRelease', async () => {
    const k = await fetchDebianSnapshot('4.13', { ...entry, suite: 'buster' }, { mirrors: mirrors(), cacheRoot: join(root, 'c2'), env: env() });
    expect(k.source).toContain(`Release signed by Debian Archive Test Key (9/stretch) <ftpmaster@example.org> (${key.fingerprint})`);
  });

  it('takes the next compression Release lists (Packages.gz) when the server lacks Packages.xz', async () => {
    const xz = join(dists, 'main', 'binary-amd64', 'Packages.xz');
    renameSync(xz, `${xz}.away`);
    server.requests.length = 0;
    try {
      const k = await fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: join(root, 'c11'), env: env() });
      expect(k.release).toBe(REL);
      expect(server.requests.map((r) => r.path).slice(1, 3)).toEqual([
        `/archive/debian/${TS}/dists/unstable/main/binary-amd64/Packages.xz`, `/archive/debian/${TS}/dists/unstable/main/binary-amd64/Packages.gz`,
      ]);
    } finally {
      renameSync(`${xz}.away`, xz);
    }
  });

  it('refuses a Release with no signature at all (no InRelease, no Release.gpg)', async () => {
    const gpgFile = join(archive, TS, 'dists', 'buster', 'Release.gpg');
    renameSync(gpgFile, `${gpgFile}.away`);
    try {
      const err = await fetchDebianSnapshot('4.13', { ...entry, suite: 'buster' }, { mirrors: mirrors(), cacheRoot: join(root, 'c10'), env: env() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toBe(`${base()}/dists/buster/Release: the suite has neither InRelease nor Release.gpg (HTTP 404 for both), so nothing proves where it came from; not used`);
    } finally {
      renameSync(`${gpgFile}.away`, gpgFile);
    }
  });

  it('refuses a Release whose signature is BAD, naming the file and its URL; nothing below it is fetched', async () => {
    const inRelease = join(dists, 'InRelease');
    const forged = readFileSync(inRelease, 'utf8').replace(/^ ([0-9a-f])/m, (_m, c: string) => ` ${c === '0' ? '1' : '0'}`);
    server.requests.length = 0;
    const err = await withFile(inRelease, forged, () => fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: join(root, 'c3'), env: env() }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).kind).toBe('bad');
    expect((err as Error).message).toBe(`InRelease: BAD signature (from ${base()}/dists/unstable/InRelease); the file was altered after signing and is not used`);
    expect(server.requests.map((r) => r.path)).toEqual([`/archive/debian/${TS}/dists/unstable/InRelease`]);
    expect(existsSync(snapshotCacheDir(join(root, 'c3'), entry))).toBe(false);
  });

  it('refuses a Release signed by no key of the keyring, naming the signer', async () => {
    const err = await fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: join(root, 'c4'), env: { IH_DEBIAN_ARCHIVE_KEYRING: other.publicKey } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).kind).toBe('unknown-key');
    expect((err as Error).message).toMatch(new RegExp(`^InRelease \\(from ${base().replace(/[.]/g, '\\.')}/dists/unstable/InRelease\\): signed by key [0-9A-F]{16}, which is not in the keyring`));
  });

  it('refuses a Packages file whose sha256 is not the one the signed Release gives, naming it, the expected and the actual value', async () => {
    const xz = join(dists, 'main', 'binary-amd64', 'Packages.xz');
    const original = readFileSync(xz);
    const tampered = Buffer.concat([original, Buffer.from('\n')]);
    server.requests.length = 0;
    const err = await withFile(xz, tampered, () => fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: join(root, 'c5'), env: env() }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(VerificationError);
    const msg = (err as Error).message;
    expect(msg).toContain(`sha256 mismatch for ${base()}/dists/unstable/main/binary-amd64/Packages.xz`);
    expect(msg).toContain(`expected ${sha256(original)} (${base()}/dists/unstable/InRelease, signed by Debian Archive Test Key (9/stretch)`);
    expect(msg).toContain(`got ${sha256(tampered)}`);
    expect(server.requests.some((r) => r.path.endsWith('.deb'))).toBe(false);
    expect(existsSync(snapshotCacheDir(join(root, 'c5'), entry))).toBe(false);
  });

  it('refuses a .deb whose sha256 is not the one Packages gives, naming it, its URL, the expected and the actual value', async () => {
    const deb = join(archive, TS, 'pool', 'main', 'l', 'linux', `${PKG}_4.13.13-1_amd64.deb`);
    const original = readFileSync(deb);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10]! ^= 0xff;
    const err = await withFile(deb, tampered, () => fetchDebianSnapshot('4.13', entry, { mirrors: mirrors(), cacheRoot: join(root, 'c6'), env: env() }).catch((e: unknown) => e));
    expect(err).toBeInstanceOf(VerificationError);
    const msg = (err as Error).message;
    expect(msg).toContain(`${PKG}_4.13.13-1_amd64.deb: sha256 mismatch for ${base()}/pool/main/l/linux/${PKG}_4.13.13-1_amd64.deb`);
    expect(msg).toContain(`expected ${sha256(original)} (${base()}/dists/unstable/main/binary-amd64/Packages.xz, listed in ${base()}/dists/unstable/InRelease signed by`);
    expect(msg).toContain(`got ${sha256(tampered)}`);
    expect(existsSync(snapshotCacheDir(join(root, 'c6'), entry))).toBe(false);
  });

  it('reports a version the suite did not list then as NotFoundError naming the versions it did list', async () => {
    const err = await fetchDebianSnapshot('4.13', { ...entry, version: '4.13.4-2' }, { mirrors: mirrors(), cacheRoot: join(root, 'c7'), env: env() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toBe(`${base()}/dists/unstable/main/binary-amd64/Packages.xz: lists no amd64 ${PKG} at version 4.13.4-2 (it lists 4.13.10-1, 4.13.13-1, 4.13.13-1); ` +
      "vm/kernels.yaml's debian-snapshot entry names a package the suite did not have then");
  });

  it('reports a snapshot without the suite as NotFoundError', async () => {
    const err = await fetchDebianSnapshot('4.13', { ...entry, timestamp: '20990101T000000Z' }, { mirrors: mirrors(), cacheRoot: join(root, 'c8'), env: env() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('/archive/debian/20990101T000000Z/dists/unstable/Release: HTTP 404');
  });

  it('refuses a Release of another suite than the catalog names', async () => {
    const bDists = join(archive, TS, 'dists', 'buster');
    renameSync(bDists, join(archive, TS, 'dists', 'stretch'));
    try {
      const err = await fetchDebianSnapshot('4.13', { ...entry, suite: 'stretch' }, { mirrors: mirrors(), cacheRoot: join(root, 'c9'), env: env() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toBe(`${base()}/dists/stretch/Release: is the Release of suite buster (codename buster), not of stretch as vm/kernels.yaml says; not used`);
    } finally {
      renameSync(join(archive, TS, 'dists', 'stretch'), bDists);
    }
  });
});

describe('fetchDebianArchive (127.0.0.1 stand-in for deb.debian.org)', () => {
  const current = () => resolveMirrors({}, { debian: `${server.url}/archive/debian/${TS}` });
  const series = { suite: 'unstable', package: /^linux-image-4\.13\.0-1-amd64$/ };

  it('takes the newest amd64 package whose name matches, through the signed index', async () => {
    const k = await fetchDebianArchive('4.13', series, { mirrors: current(), cacheRoot: join(root, 'a1'), env: env() });
    // 4.13.10-1 and 4.13.13-1 are listed for amd64 (and the newer one for i386, and a -dbg package): dpkg's order picks 4.13.13-1
    expect(k).toMatchObject({ release: REL, version: '4.13.13-1' });
    expect(k.source).toMatch(new RegExp(`^debian:unstable/${PKG}=4\\.13\\.13-1 \\(${PKG}_4\\.13\\.13-1_amd64\\.deb from `));
  });

  it('uses the package the last download chose when the archive cannot be reached, and says so', async () => {
    const cache = join(root, 'a2');
    const first = await fetchDebianArchive('4.13', series, { mirrors: current(), cacheRoot: cache, env: env() });
    const said: string[] = [];
    const offline = resolveMirrors({}, { debian: 'http://127.0.0.1:9/debian' });
    const k = await fetchDebianArchive('4.13', series, { mirrors: offline, cacheRoot: cache, env: env(), log: (l) => said.push(l) });
    expect(k.bootImage).toBe(first.bootImage);
    expect(said.join('\n')).toMatch(/127\.0\.0\.1:9\/debian unreachable .*; using the package the last download chose/);
    // without a cached choice the same failure is the caller's to handle (the next source is tried)
    await expect(fetchDebianArchive('4.13', series, { mirrors: offline, cacheRoot: join(root, 'a3'), env: env() })).rejects.toThrow();
  });

  it('refuses a suite that lists no package of the series', async () => {
    await expect(fetchDebianArchive('4.13', { suite: 'unstable', package: /^linux-image-9\.9/ }, { mirrors: current(), cacheRoot: join(root, 'a4'), env: env() }))
      .rejects.toBeInstanceOf(NotFoundError);
  });
});
