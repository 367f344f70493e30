import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, VerificationError } from '../fetch/errors.ts';
import { resolveMirrors } from '../fetch/mirrors.ts';
import { makeTestKey, type TestKey } from '../fetch/test-gpg.ts';
import { startMirrorServer, type MirrorServer } from '../fetch/test-server.ts';
import { checksumsSha256, fetchUbuntuMainline, mainlinePackages } from './ubuntu-mainline.ts';

// Ubuntu mainline's layout on a 127.0.0.1 mirror: /mainline/v4.13.16/ with the packages in the version directory
// itself (as old releases have them), decoys beside them, CHECKSUMS (Sha1 and Sha256 sections) and CHECKSUMS.gpg.
const root = mkdtempSync(join(tmpdir(), 'ih-mainline-'));
const dir = join(root, 'www', 'mainline', 'v4.13.16');
const REL = '4.13.16-041316-generic';
const IMAGE = `linux-image-${REL}_4.13.16-041316.201711240901_amd64.deb`;
const DECOYS = [
  'linux-headers-4.13.16-041316_4.13.16-041316.201711240901_all.deb',
  'linux-headers-4.13.16-041316-generic_4.13.16-041316.201711240901_amd64.deb',
  'linux-image-4.13.16-041316-lowlatency_4.13.16-041316.201711240901_amd64.deb',
  'linux-image-4.13.16-041316-generic_4.13.16-041316.201711240901_i386.deb',
];
let server: MirrorServer;
let key: TestKey;
let checksums = '';

async function makeDeb(name: string, pkg: string, files: Record<string, string>): Promise<void> {
  const stage = join(root, 'stage', pkg);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(stage, path, '..'), { recursive: true });
    writeFileSync(join(stage, path), text);
  }
  mkdirSync(join(stage, 'DEBIAN'), { recursive: true });
  writeFileSync(join(stage, 'DEBIAN', 'control'), `Package: ${pkg}\nVersion: 4.13.16-041316.201711240901\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n`);
  await execa('dpkg-deb', ['-Zgzip', '-b', stage, join(dir, name)]);
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const sha1 = (file: string) => createHash('sha1').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  await makeDeb(IMAGE, `linux-image-${REL}`, { [`boot/vmlinuz-${REL}`]: 'not really a kernel\n', [`lib/modules/${REL}/kernel/drivers/md/dm-integrity.ko`]: 'ko\n' });
  for (const d of DECOYS) writeFileSync(join(dir, d), 'decoy\n');
  const all = [IMAGE, ...DECOYS];
  checksums = `# Checksums, check with the command below:\n#     shasum -c CHECKSUMS\n#\n# Checksums-Sha1:\n${all.map((f) => `${sha1(join(dir, f))}  ${f}`).join('\n')}\n#\n# Checksums-Sha256:\n${all.map((f) => `${sha256(join(dir, f))}  ${f}`).join('\n')}\n`;
  writeFileSync(join(dir, 'CHECKSUMS'), checksums);
  key = await makeTestKey('Kernel PPA Test <ppa@example.org>');
  await key.detachSign(join(dir, 'CHECKSUMS'), join(dir, 'CHECKSUMS.gpg'));
  server = await startMirrorServer(join(root, 'www'));
}, 60_000);
afterAll(async () => {
  await server.close();
  await key.remove();
  await rm(root, { recursive: true, force: true });
});

const mirrors = () => resolveMirrors({}, { 'ubuntu-mainline': `${server.url}/mainline` });

describe('Ubuntu mainline listings and CHECKSUMS', () => {
  it('pick the generic amd64 image and modules packages, nothing else', () => {
    const html = [IMAGE, ...DECOYS, `linux-modules-${REL}_5_amd64.deb`, `linux-image-unsigned-${REL}_5_amd64.deb`].map((n) => `<a href="${n}">${n}</a>`).join('\n');
    expect(mainlinePackages(html)).toEqual([IMAGE, `linux-image-unsigned-${REL}_5_amd64.deb`, `linux-modules-${REL}_5_amd64.deb`]);
  });

  it('read only the Sha256 section of CHECKSUMS', () => {
    const sums = checksumsSha256(checksums);
    expect(sums.get(IMAGE)).toBe(sha256(join(dir, IMAGE)));
    expect([...sums.values()].every((v) => v.length === 64)).toBe(true);
  });
});

describe('fetchUbuntuMainline (127.0.0.1 mirror)', () => {
  it('downloads the packages, checks CHECKSUMS\' signature and each sha256, unpacks image and modules; a second call needs no network', async () => {
    const cache = join(root, 'c1');
    const k = await fetchUbuntuMainline('4.13', 'v4.13.16', { mirrors: mirrors(), cacheRoot: cache, env: { IH_UBUNTU_MAINLINE_KEYRING: key.publicKey } });
    expect(k.release).toBe(REL);
    expect(readFileSync(k.bootImage, 'utf8')).toBe('not really a kernel\n');
    expect(existsSync(join(k.modulesRoot!, 'lib', 'modules', REL, 'kernel', 'drivers', 'md', 'dm-integrity.ko'))).toBe(true);
    expect(k.source).toContain(`ubuntu-mainline:v4.13.16 (${IMAGE} from ${server.url}/mainline/v4.13.16/; sha256 as in CHECKSUMS; CHECKSUMS signed by Kernel PPA Test <ppa@example.org> (${key.fingerprint}))`);
    // no decoy was fetched
    expect(server.requests.map((r) => r.path).filter((p) => p.endsWith('.deb'))).toEqual([`/mainline/v4.13.16/${IMAGE}`]);
    const before = server.requests.length;
    const again = await fetchUbuntuMainline('4.13', 'v4.13.16', { mirrors: mirrors(), cacheRoot: cache });
    expect(again.bootImage).toBe(k.bootImage);
    expect(again.source).toBe(k.source);
    expect(server.requests.length).toBe(before);
  });

  it('says when CHECKSUMS\' signature was not checked (no keyring given)', async () => {
    const k = await fetchUbuntuMainline('4.13', 'v4.13.16', { mirrors: mirrors(), cacheRoot: join(root, 'c2'), env: {} });
    expect(k.source).toContain('CHECKSUMS signature not checked: no IH_UBUNTU_MAINLINE_KEYRING');
  });

  it('refuses a CHECKSUMS whose signature is BAD', async () => {
    const file = join(dir, 'CHECKSUMS');
    writeFileSync(file, checksums.replace(/^[0-9a-f]/m, (c) => (c === '0' ? '1' : '0')));
    try {
      const err = await fetchUbuntuMainline('4.13', 'v4.13.16', { mirrors: mirrors(), cacheRoot: join(root, 'c3'), env: { IH_UBUNTU_MAINLINE_KEYRING: key.publicKey } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as Error).message).toMatch(/^CHECKSUMS: BAD signature \(from http:\/\/127\.0\.0\.1:\d+\/mainline\/v4\.13\.16\/CHECKSUMS\.gpg\)/);
      expect(existsSync(join(root, 'c3', 'kernels', 'ubuntu-mainline', 'v4.13.16'))).toBe(false);
    } finally {
      writeFileSync(file, checksums);
    }
  });

  it('refuses a package whose sha256 is not the one CHECKSUMS gives, naming it, its URL, the expected and the actual value', async () => {
    const deb = join(dir, IMAGE);
    const original = readFileSync(deb);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10]! ^= 0xff;
    writeFileSync(deb, tampered);
    try {
      const err = await fetchUbuntuMainline('4.13', 'v4.13.16', { mirrors: mirrors(), cacheRoot: join(root, 'c4'), env: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VerificationError);
      const msg = (err as Error).message;
      expect(msg).toContain(`${IMAGE}: sha256 mismatch for ${server.url}/mainline/v4.13.16/${IMAGE}`);
      expect(msg).toContain(`expected ${createHash('sha256').update(original).digest('hex')} (CHECKSUMS at ${server.url}/mainline/v4.13.16/CHECKSUMS)`);
      expect(msg).toContain(`got ${createHash('sha256').update(tampered).digest('hex')}`);
      expect(existsSync(join(root, 'c4', 'kernels', 'ubuntu-mainline', 'v4.13.16'))).toBe(false);
    } finally {
      writeFileSync(deb, original);
    }
  });

  it('reports a release the archive does not have as NotFoundError (the caller then builds from source)', async () => {
    const err = await fetchUbuntuMainline('9.9', 'v9.9', { mirrors: mirrors(), cacheRoot: join(root, 'c5'), env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toMatch(/\/mainline\/v9\.9\/: the Ubuntu mainline archive has no such release/);
  });
});
