// Prebuilt kernels from Ubuntu's mainline archive (kernel.ubuntu.com/mainline/v<version>/, what virtme-ng
// downloads): the generic amd64 image and modules packages of one upstream release, each checked against the
// sha256 in the directory's CHECKSUMS file, then unpacked (dpkg-deb -x, never installed) into the cache.
// CHECKSUMS.gpg is checked when the user names a keyring for it (IH_UBUNTU_MAINLINE_KEYRING); none is shipped,
// and the provenance line says which was the case.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';
import { fillCacheDir } from '../cache.ts';
import { fetchBytes } from '../fetch/download.ts';
import { NotFoundError, VerificationError } from '../fetch/errors.ts';
import { verifyDetached } from '../fetch/gpgv.ts';
import { ubuntuMainlineKeyring } from '../fetch/keyrings.ts';
import type { Mirrors } from '../fetch/mirrors.ts';
import type { ProgressFactory } from '../fetch/progress.ts';
import { fetchVerified } from '../fetch/store.ts';
import type { ResolvedKernel } from './types.ts';

export interface MainlineFetch {
  mirrors: Mirrors;
  cacheRoot: string;
  progress?: ProgressFactory;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

// linux-image-4.13.16-041316-generic_..._amd64.deb, linux-image-unsigned-5.6.10-050610-generic_..., linux-modules-...
const PACKAGE = /^linux-(image|image-unsigned|modules)-\d[^_/]*-generic_[^_/]+_amd64\.deb$/;

/** The generic amd64 kernel packages a directory listing links to (no headers, no lowlatency, no other arch). */
export function mainlinePackages(listingHtml: string): string[] {
  const names = [...listingHtml.matchAll(/href=["']([^"']+\.deb)["']/g)].map((m) => decodeURIComponent(m[1]!).split('/').at(-1)!);
  return [...new Set(names.filter((n) => PACKAGE.test(n)))].sort();
}

/** sha256 lines of a CHECKSUMS file ("<hex>  <file>"; its Sha1 section has 40-digit lines, which do not match). */
export function checksumsSha256(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m !== null) out.set(m[2]!, m[1]!);
  }
  return out;
}

/** Newer releases keep their packages under amd64/, older ones in the version directory itself. */
async function findListing(base: string): Promise<{ dirUrl: string; html: string }> {
  for (const dirUrl of [`${base}/amd64/`, `${base}/`]) {
    try {
      return { dirUrl, html: (await fetchBytes(dirUrl)).toString('utf8') };
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  throw new NotFoundError(base, `${base}/: the Ubuntu mainline archive has no such release (HTTP 404 for it and its amd64/)`);
}

interface Provenance {
  source: string;
}

function resolved(dest: string, spec: string, dir: string, prov: Provenance, images: string[]): ResolvedKernel {
  if (images.length !== 1) throw new InfraError(`${dest}/root/boot holds ${images.length} vmlinuz files, expected 1`);
  const release = images[0]!.slice('vmlinuz-'.length);
  const root = join(dest, 'root');
  return { spec, label: release, bootImage: join(root, 'boot', images[0]!), modulesRoot: root, release, source: prov.source, version: dir };
}

async function load(dest: string, spec: string, dir: string): Promise<ResolvedKernel> {
  const prov = JSON.parse(await fs.readFile(join(dest, 'provenance.json'), 'utf8')) as Provenance;
  const images = (await fs.readdir(join(dest, 'root', 'boot'))).filter((f) => f.startsWith('vmlinuz-'));
  return resolved(dest, spec, dir, prov, images);
}

/** Downloads, verifies and unpacks ubuntu-mainline:<dir> (e.g. v4.13.16); a cached one needs no network. */
export async function fetchUbuntuMainline(spec: string, dir: string, f: MainlineFetch): Promise<ResolvedKernel> {
  const dest = join(f.cacheRoot, 'kernels', 'ubuntu-mainline', dir);
  if (existsSync(join(dest, '.complete'))) return load(dest, spec, dir);
  const log = f.log ?? (() => undefined);
  const { dirUrl, html } = await findListing(`${f.mirrors['ubuntu-mainline']}/${dir}`);
  const debs = mainlinePackages(html);
  if (!debs.some((d) => d.startsWith('linux-image-'))) throw new NotFoundError(dirUrl, `${dirUrl}: lists no generic amd64 linux-image package`);
  const checksumsUrl = `${dirUrl}CHECKSUMS`;
  const checksums = await fetchBytes(checksumsUrl);
  const work = `${dest}.work-${process.pid}`;
  await fs.mkdir(work, { recursive: true });
  let signature: string;
  try {
    const keyring = await ubuntuMainlineKeyring(f.cacheRoot, f.env);
    if (keyring === undefined) {
      signature = 'CHECKSUMS signature not checked: no IH_UBUNTU_MAINLINE_KEYRING';
    } else {
      await fs.writeFile(join(work, 'CHECKSUMS'), checksums);
      await fs.writeFile(join(work, 'CHECKSUMS.gpg'), await fetchBytes(`${checksumsUrl}.gpg`));
      const sig = await verifyDetached(join(work, 'CHECKSUMS.gpg'), join(work, 'CHECKSUMS'), `${checksumsUrl}.gpg`, keyring, 'CHECKSUMS');
      signature = `CHECKSUMS signed by ${sig.signer} (${sig.fingerprint})`;
    }
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  const sums = checksumsSha256(checksums.toString('utf8'));
  const files: string[] = [];
  for (const deb of debs) {
    const sha256 = sums.get(deb);
    if (sha256 === undefined) throw new VerificationError(`${deb}: CHECKSUMS at ${checksumsUrl} has no sha256 for it; not used`, 'checksum');
    log(`downloading ${dirUrl}${deb}`);
    files.push(await fetchVerified({
      url: `${dirUrl}${deb}`, name: deb, sha256, expectedFrom: `CHECKSUMS at ${checksumsUrl}`, cacheRoot: f.cacheRoot,
      ...(f.progress !== undefined ? { progress: f.progress } : {}),
    }));
  }
  const prov: Provenance = { source: `ubuntu-mainline:${dir} (${debs.join(', ')} from ${dirUrl}; sha256 as in CHECKSUMS; ${signature})` };
  await fillCacheDir(dest, async (tmp) => {
    for (const file of files) {
      const x = await execa('dpkg-deb', ['-x', file, join(tmp, 'root')], { reject: false });
      if (x.exitCode !== 0) throw new InfraError(`dpkg-deb -x ${file} failed: ${tail(x.stderr)}`);
    }
    await fs.writeFile(join(tmp, 'provenance.json'), `${JSON.stringify(prov, null, 2)}\n`);
    await fs.writeFile(join(tmp, '.complete'), '');
  });
  return load(dest, spec, dir);
}
