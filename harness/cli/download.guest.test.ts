/**
 * `--kernel 4.13` as on a machine with the internet, with the internet played by a server on 127.0.0.1 that
 * has Ubuntu mainline's layout: the prebuilt package is downloaded (the connection dropped once mid-body and
 * resumed), checked against CHECKSUMS and its signature, unpacked, booted, and a scenario passes on it.
 * The package is Debian's 6.1 kernel (what apt gives here) repacked under the 4.13 mainline name.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { makeTestKey, type TestKey } from '../../vm/fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../../vm/fetch/test-server.ts';
import { provideKernel } from '../../vm/kernel/provider.ts';
import { parseKernelSpec } from '../../vm/kernel/spec.ts';
import type { Summary } from '../results.ts';
import { downloadTestCache } from '../test/download-cache.ts';

const DEB = 'linux-image-unsigned-4.13.16-041316-generic_4.13.16-041316.201711240901_amd64.deb';
const DEB_PATH = `/mainline/v4.13.16/amd64/${DEB}`;
const sharedCache = cacheDir();
// The repacked tree is hard links into the shared cache where both are on one filesystem (cp -al), else a copy.
const root = mkdtempSync(join(tmpdir(), 'ih-download-guest-'));
const cache = join(root, 'cache');
let server: MirrorServer;
let key: TestKey;
let release = '';

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

beforeAll(async () => {
  // The Debian 6.1 package, repacked as Ubuntu mainline's 4.13.16 image package.
  const debian = await provideKernel(parseKernelSpec('6.1'));
  release = debian.release!;
  const stage = join(root, 'stage');
  if ((await execa('cp', ['-al', debian.modulesRoot!, stage], { reject: false })).exitCode !== 0) {
    await rm(stage, { recursive: true, force: true });
    await execa('cp', ['-a', debian.modulesRoot!, stage]);
  }
  mkdirSync(join(stage, 'DEBIAN'));
  writeFileSync(join(stage, 'DEBIAN', 'control'),
    'Package: linux-image-unsigned-4.13.16-041316-generic\nVersion: 4.13.16-041316.201711240901\nArchitecture: amd64\nMaintainer: test <t@example.org>\nDescription: Debian 6.1 kernel repacked for a test\n');
  const dir = join(root, 'www', 'mainline', 'v4.13.16', 'amd64');
  mkdirSync(dir, { recursive: true });
  await execa('dpkg-deb', ['-Znone', '--root-owner-group', '-b', stage, join(dir, DEB)]);
  await rm(stage, { recursive: true, force: true });
  writeFileSync(join(dir, 'CHECKSUMS'), `# Checksums-Sha256:\n${await sha256(join(dir, DEB))}  ${DEB}\n`);
  key = await makeTestKey('Kernel PPA Test <ppa@example.org>');
  await key.detachSign(join(dir, 'CHECKSUMS'), join(dir, 'CHECKSUMS.gpg'));
  server = await startMirrorServer(join(root, 'www'));
  downloadTestCache(sharedCache, cache);
}, 600_000);
afterAll(async () => {
  await server?.close();
  await key?.remove();
  await rm(root, { recursive: true, force: true });
});

describe('npm run matrix -- --kernel 4.13 with the Ubuntu mainline mirror on 127.0.0.1', () => {
  it('downloads (resuming once), verifies, unpacks, boots and passes a scenario', async () => {
    server.dropOnce.set(DEB_PATH, 32 * 1024 * 1024);
    const results = join(root, 'results');
    const r = await execa('npx', ['tsx', join(repoRoot(), 'harness/cli/matrix.ts'),
      '--kernel', '4.13', '--mirror', `ubuntu-mainline=${server.url}/mainline`, '--mirror', 'kernel.org=http://127.0.0.1:9/pub/linux/kernel',
      // the Debian snapshot, tried first, is unreachable here, so the mainline package is what boots
      '--mirror', 'debian-snapshot=http://127.0.0.1:9/archive/debian',
      '--scenario', 'integrity/001*', '--results', results,
    ], { cwd: repoRoot(), reject: false, all: true, env: { IH_CACHE_DIR: cache, IH_UBUNTU_MAINLINE_KEYRING: key.publicKey } });
    expect(r.exitCode, r.all).toBe(0);
    const s = JSON.parse(readFileSync(join(results, 'latest', 'summary.json'), 'utf8')) as Summary;
    const k = s.kernels[0]!;
    expect(k).toMatchObject({ spec: '4.13', status: 'ok', release });
    expect(k.source).toContain(`ubuntu-mainline:v4.13.16 (${DEB} from ${server.url}/mainline/v4.13.16/amd64/; sha256 as in CHECKSUMS; CHECKSUMS signed by Kernel PPA Test <ppa@example.org> (${key.fingerprint}))`);
    expect(s.cells.map((c) => [c.scenario, c.verdict])).toEqual([['integrity/001-crc32c-journal-corrupt', 'pass']]);
    // the guest ran the kernel that was downloaded
    expect(s.cells[0]!.kernelRelease).toBe(release);
    // one interrupted request, then one that asked for the rest
    const debRequests = server.requests.filter((q) => q.path === DEB_PATH);
    expect(debRequests).toHaveLength(2);
    expect(debRequests[1]!.range).toMatch(/^bytes=\d+-$/);
    // not a terminal: one line for the file, saying where it was resumed
    expect(r.stderr.match(new RegExp(`^downloaded ${DEB.replace(/[.+]/g, '\\$&')} \\(\\d+\\.\\d MiB from ${server.url}${DEB_PATH}, resumed at \\d+\\.\\d MiB\\)$`, 'gm'))).toHaveLength(1);
  }, 900_000);
});
