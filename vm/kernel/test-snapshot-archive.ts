// A stand-in for snapshot.debian.org, for tests: writes one suite of the archive as it was at one timestamp
// under a directory a test server (vm/fetch/test-server.ts) serves: the .deb files in pool/main/l/linux/,
// dists/<suite>/main/binary-amd64/Packages(.xz/.gz) listing them, a Release giving those files' sha256, and
// InRelease and Release.gpg signed by a test key, in the layout and formats the real archive uses.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import type { TestKey } from '../fetch/test-gpg.ts';

export interface ArchivedDeb {
  /** the .deb to publish (its Package and Version fields are written as given here) */
  file: string;
  package: string;
  version: string;
  architecture?: string;
}

export interface SnapshotSuite {
  /** the served directory that stands for https://snapshot.debian.org/archive/debian */
  archiveRoot: string;
  timestamp: string;
  suite: string;
  codename?: string;
  debs: ArchivedDeb[];
  key: TestKey;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function stanza(d: ArchivedDeb, filename: string, bytes: Buffer): string {
  return [
    `Package: ${d.package}`, 'Source: linux', `Version: ${d.version}`, 'Installed-Size: 1', 'Maintainer: Debian Kernel Team <debian-kernel@lists.debian.org>',
    `Architecture: ${d.architecture ?? 'amd64'}`, 'Description: Linux for 64-bit PCs (test stand-in)', ' A package of a test archive.', 'Section: kernel', 'Priority: optional',
    `Filename: ${filename}`, `Size: ${bytes.length}`, `MD5sum: ${createHash('md5').update(bytes).digest('hex')}`, `SHA256: ${sha256(bytes)}`,
  ].join('\n');
}

/** Writes the suite; returns the dists/<suite> directory (tests alter files there to show each check). */
export async function writeSnapshotSuite(s: SnapshotSuite): Promise<string> {
  const top = join(s.archiveRoot, s.timestamp);
  const pool = join(top, 'pool', 'main', 'l', 'linux');
  const dists = join(top, 'dists', s.suite);
  const bin = join(dists, 'main', 'binary-amd64');
  mkdirSync(pool, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const stanzas: string[] = [];
  for (const d of s.debs) {
    const name = `${d.package}_${d.version}_${d.architecture ?? 'amd64'}.deb`;
    copyFileSync(d.file, join(pool, name));
    stanzas.push(stanza(d, `pool/main/l/linux/${name}`, readFileSync(join(pool, name))));
  }
  const packages = Buffer.from(`${stanzas.join('\n\n')}\n`);
  writeFileSync(join(bin, 'Packages'), packages);
  writeFileSync(join(bin, 'Packages.gz'), gzipSync(packages));
  await execa('xz', ['-k', '-f', join(bin, 'Packages')]);
  const listed = ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz', 'main/binary-amd64/Packages.xz'];
  const line = (p: string) => {
    const b = readFileSync(join(dists, p));
    return ` ${sha256(b)} ${String(b.length).padStart(16)} ${p}`;
  };
  const release = [
    'Origin: Debian', 'Label: Debian', `Suite: ${s.suite}`, `Codename: ${s.codename ?? s.suite}`, 'Date: Sat, 25 Nov 2017 03:54:33 UTC',
    'Valid-Until: Sat, 02 Dec 2017 03:54:33 UTC', 'Architectures: amd64', 'Components: main', 'Description: test stand-in',
    'MD5Sum:', ...listed.map((p) => ` ${createHash('md5').update(readFileSync(join(dists, p))).digest('hex')} ${readFileSync(join(dists, p)).length} ${p}`),
    'SHA256:', ...listed.map(line), '',
  ].join('\n');
  writeFileSync(join(dists, 'Release'), release);
  await s.key.clearsign(join(dists, 'Release'), join(dists, 'InRelease'));
  await s.key.detachSign(join(dists, 'Release'), join(dists, 'Release.gpg'));
  return dists;
}

/** A minimal kernel package (boot/vmlinuz-<release>, boot/config-<release>, one module) for tests that do not boot it. */
export async function makeKernelDeb(dir: string, pkg: string, version: string, release: string): Promise<string> {
  const stage = join(dir, `stage-${pkg}-${version}`);
  const files: Record<string, string> = {
    [`boot/vmlinuz-${release}`]: `not really a kernel (${version})\n`,
    [`boot/config-${release}`]: 'CONFIG_DM_INTEGRITY=m\n',
    [`lib/modules/${release}/kernel/drivers/md/dm-integrity.ko`]: 'ko\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(stage, path, '..'), { recursive: true });
    writeFileSync(join(stage, path), text);
  }
  mkdirSync(join(stage, 'DEBIAN'), { recursive: true });
  writeFileSync(join(stage, 'DEBIAN', 'control'), `Package: ${pkg}\nVersion: ${version}\nArchitecture: amd64\nMaintainer: t <t@example.org>\nDescription: test\n`);
  const out = join(dir, `${basename(stage)}.deb`);
  await execa('dpkg-deb', ['-Zgzip', '--root-owner-group', '-b', stage, out]);
  return out;
}
