/**
 * `--kernel 4.13` as on a machine with the internet, with snapshot.debian.org played by a server on 127.0.0.1:
 * the suite's InRelease is checked against the Debian archive keyring (here a test key that has expired since it
 * signed, co-signing with a key the keyring lacks, as 2017's Release files are signed), Packages.xz against
 * InRelease, the .deb against Packages (its download cut once and resumed); then the kernel is unpacked, booted,
 * and a scenario passes on it. The package is Debian's 6.1 kernel (what apt gives here) repacked under the name
 * and version vm/kernels.yaml gives for 4.13 (linux-image-4.13.0-1-amd64 4.13.13-1).
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { makeTestKey, type TestKey } from '../../vm/fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../../vm/fetch/test-server.ts';
import { loadCatalog } from '../../vm/kernel/catalog.ts';
import { provideKernel } from '../../vm/kernel/provider.ts';
import { parseKernelSpec } from '../../vm/kernel/spec.ts';
import { writeSnapshotSuite } from '../../vm/kernel/test-snapshot-archive.ts';
import type { Summary } from '../results.ts';
import { downloadTestCache } from '../test/download-cache.ts';

const entry = (() => {
  const s = loadCatalog().get('4.13');
  if (s?.kind !== 'tarball' || s.debianSnapshot === undefined) throw new Error('vm/kernels.yaml: 4.13 must name a debian-snapshot package');
  return s.debianSnapshot;
})();
const DEB = `${entry.package}_${entry.version}_amd64.deb`;
const DEB_PATH = `/archive/debian/${entry.timestamp}/pool/main/l/linux/${DEB}`;
const sharedCache = cacheDir();
const root = mkdtempSync(join(tmpdir(), 'ih-snapshot-guest-'));
const cache = join(root, 'cache');
let server: MirrorServer;
let key: TestKey;
let release = '';

beforeAll(async () => {
  // The Debian 6.1 package, repacked under the 4.13 package's name and version (hard links where possible).
  const debian = await provideKernel(parseKernelSpec('6.1'));
  release = debian.release!;
  const stage = join(root, 'stage');
  if ((await execa('cp', ['-al', debian.modulesRoot!, stage], { reject: false })).exitCode !== 0) {
    await rm(stage, { recursive: true, force: true });
    await execa('cp', ['-a', debian.modulesRoot!, stage]);
  }
  mkdirSync(join(stage, 'DEBIAN'));
  writeFileSync(join(stage, 'DEBIAN', 'control'),
    `Package: ${entry.package}\nVersion: ${entry.version}\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: Debian 6.1 kernel repacked for a test\n`);
  const deb = join(root, DEB);
  await execa('dpkg-deb', ['-Znone', '--root-owner-group', '-b', stage, deb]);
  await rm(stage, { recursive: true, force: true });
  key = await makeTestKey('Debian Archive Test Key (9/stretch) <ftpmaster@example.org>', {
    past: { at: '20170601T000000', expire: '2y' }, coSigner: 'Debian Archive Test Key (8/jessie) <ftpmaster@example.org>',
  });
  await writeSnapshotSuite({
    archiveRoot: join(root, 'www', 'archive', 'debian'), timestamp: entry.timestamp, suite: entry.suite, key,
    debs: [{ file: deb, package: entry.package, version: entry.version }],
  });
  await rm(deb);
  server = await startMirrorServer(join(root, 'www'));
  downloadTestCache(sharedCache, cache);
}, 600_000);
afterAll(async () => {
  await server?.close();
  await key?.remove();
  await rm(root, { recursive: true, force: true });
});

describe('npm run matrix -- --kernel 4.13 with the Debian snapshot mirror on 127.0.0.1', () => {
  it('downloads (resuming once), verifies InRelease, Packages and the .deb, unpacks, boots and passes a scenario', async () => {
    server.dropOnce.set(DEB_PATH, 32 * 1024 * 1024);
    const results = join(root, 'results');
    const r = await execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'),
      '--kernel', '4.13', '--mirror', `debian-snapshot=${server.url}/archive/debian`,
      '--mirror', 'ubuntu-mainline=http://127.0.0.1:9/mainline', '--mirror', 'kernel.org=http://127.0.0.1:9/pub/linux/kernel',
      '--scenario', 'integrity/001*', '--results', results,
    ], { cwd: repoRoot(), reject: false, all: true, env: { IH_CACHE_DIR: cache, IH_DEBIAN_ARCHIVE_KEYRING: key.publicKey } });
    expect(r.exitCode, r.all).toBe(0);
    const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
    const k = s.kernels[0]!;
    expect(k).toMatchObject({ spec: '4.13', status: 'ok', release });
    expect(k.source).toBe(`debian-snapshot:${entry.package}=${entry.version} (${entry.suite} at ${entry.timestamp}) (${DEB} from ${server.url}/archive/debian/${entry.timestamp}/; ` +
      `sha256 as in ${entry.suite}'s Packages; Release signed by Debian Archive Test Key (9/stretch) <ftpmaster@example.org> (${key.fingerprint}))`);
    expect(s.cells.map((c) => [c.scenario, c.verdict])).toEqual([['integrity/001-crc32c-journal-corrupt', 'pass']]);
    // the guest ran the kernel that was downloaded
    expect(s.cells[0]!.kernelRelease).toBe(release);
    // the index, then the package: one interrupted request, then one that asked for the rest
    const paths = server.requests.map((q) => q.path);
    expect(paths.slice(0, 2)).toEqual([`/archive/debian/${entry.timestamp}/dists/${entry.suite}/InRelease`, `/archive/debian/${entry.timestamp}/dists/${entry.suite}/main/binary-amd64/Packages.xz`]);
    const debRequests = server.requests.filter((q) => q.path === DEB_PATH);
    expect(debRequests).toHaveLength(2);
    expect(debRequests[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(r.stderr.match(new RegExp(`^downloaded ${DEB.replace(/[.+]/g, '\\$&')} \\(\\d+\\.\\d MiB from ${server.url}${DEB_PATH}, resumed at \\d+\\.\\d MiB\\)$`, 'gm'))).toHaveLength(1);
  }, 900_000);
});
