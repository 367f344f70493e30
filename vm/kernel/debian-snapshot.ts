// Prebuilt kernels from Debian's snapshot archive (snapshot.debian.org/archive/debian/<timestamp>/): Debian's
// own build of an old series, as a suite listed it at that moment. Checked the way apt checks it, from the root
// down: the suite's InRelease (or Release + Release.gpg) must carry a valid signature by a key in the Debian
// archive keyring shipped in vm/keys/debian (a key that has expired since still counts: snapshots are old);
// main/binary-amd64/Packages must have the sha256 Release gives it; the .deb the sha256 Packages gives it.
// Then the package is unpacked (dpkg-deb -x, never installed) and boots like Debian 12's own kernel packages.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';
import { fillCacheDir } from '../cache.ts';
import { fetchBytes } from '../fetch/download.ts';
import { NotFoundError, VerificationError } from '../fetch/errors.ts';
import { verifyClearsignedByAny, verifyDetachedByAny, type GoodSignature } from '../fetch/gpgv.ts';
import { debianArchiveKeyring } from '../fetch/keyrings.ts';
import type { Mirrors } from '../fetch/mirrors.ts';
import type { ProgressFactory } from '../fetch/progress.ts';
import { fetchVerified } from '../fetch/store.ts';
import type { DebianSnapshotEntry } from './catalog.ts';
import { findPackage, parseRelease, versionsOf, type ReleaseIndex } from './deb-index.ts';
import { unpackDeb, unpackedKernel } from './debian.ts';
import type { ResolvedKernel } from './types.ts';

export interface SnapshotFetch {
  mirrors: Mirrors;
  cacheRoot: string;
  progress?: ProgressFactory;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The Packages files a Release may list, preferred first; each is checked against Release before it is read. */
const PACKAGES = [
  { path: 'main/binary-amd64/Packages.xz', decode: 'xz' },
  { path: 'main/binary-amd64/Packages.gz', decode: 'gz' },
  { path: 'main/binary-amd64/Packages', decode: 'none' },
] as const;

interface SignedRelease {
  text: string;
  url: string;
  sig: GoodSignature;
}

/** InRelease (clear-signed), else Release with its detached Release.gpg, as apt reads them. */
async function signedRelease(dists: string, work: string, keyring: string): Promise<SignedRelease> {
  const inUrl = `${dists}/InRelease`;
  try {
    const file = join(work, 'InRelease');
    await fs.writeFile(file, await fetchBytes(inUrl));
    const good = await verifyClearsignedByAny(file, inUrl, keyring, 'InRelease');
    return { text: good.text, url: inUrl, sig: good };
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
  const url = `${dists}/Release`;
  const file = join(work, 'Release');
  await fs.writeFile(file, await fetchBytes(url));
  // A Release without its signature is refused, as apt refuses it, not passed over like a missing suite.
  const sig = await fetchBytes(`${url}.gpg`).catch((e: unknown) => {
    if (!(e instanceof NotFoundError)) throw e;
    throw new VerificationError(`${url}: the suite has neither InRelease nor Release.gpg (HTTP 404 for both), so nothing proves where it came from; not used`, 'unsigned');
  });
  await fs.writeFile(join(work, 'Release.gpg'), sig);
  const good = await verifyDetachedByAny(join(work, 'Release.gpg'), file, `${url}.gpg`, keyring, 'Release');
  return { text: await fs.readFile(file, 'utf8'), url, sig: good };
}

async function decoded(file: string, decode: (typeof PACKAGES)[number]['decode']): Promise<string> {
  if (decode === 'gz') return gunzipSync(await fs.readFile(file)).toString('utf8');
  if (decode === 'none') return fs.readFile(file, 'utf8');
  const r = await execa('xz', ['-dc', file], { reject: false, maxBuffer: 1024 * 1024 * 1024 });
  if ((r as { code?: string }).code === 'ENOENT') throw new InfraError('xz is not installed (apt-get install xz-utils)');
  if (r.exitCode !== 0) throw new InfraError(`xz -dc ${file} failed: ${tail(r.stderr)}`);
  return r.stdout;
}

/**
 * The suite's amd64 Packages file: each compression the signed Release lists, preferred first, checked
 * against the sha256 Release gives it; one the server lacks (404) passes to the next, as apt does.
 */
async function packagesIndex(dists: string, index: ReleaseIndex, expectedFrom: string, e: DebianSnapshotEntry, f: SnapshotFetch): Promise<{ packagesUrl: string; packages: string }> {
  const listed = PACKAGES.filter((p) => index.sha256.has(p.path));
  if (listed.length === 0) {
    throw new VerificationError(`${dists}: its Release's SHA256 field lists no ${PACKAGES.map((p) => p.path).join(', ')}; nothing to check the package against`, 'other');
  }
  let missing: NotFoundError | undefined;
  for (const p of listed) {
    const packagesUrl = `${dists}/${p.path}`;
    try {
      const file = await fetchVerified({
        url: packagesUrl, name: `${e.suite}-${e.timestamp}-${p.path.split('/').at(-1)!}`, sha256: index.sha256.get(p.path)!.sha256,
        expectedFrom, cacheRoot: f.cacheRoot, ...(f.progress !== undefined ? { progress: f.progress } : {}),
      });
      return { packagesUrl, packages: await decoded(file, p.decode) };
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      missing = err;
    }
  }
  throw missing!;
}

function entryText(e: DebianSnapshotEntry): string {
  return `${e.package}=${e.version} (${e.suite} at ${e.timestamp})`;
}

interface Provenance {
  source: string;
  version: string;
}

export function snapshotCacheDir(cacheRoot: string, e: DebianSnapshotEntry): string {
  return join(cacheRoot, 'kernels', 'debian-snapshot', `${e.package}_${e.version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
}

async function load(dest: string, spec: string, e: DebianSnapshotEntry): Promise<ResolvedKernel> {
  const prov = JSON.parse(await fs.readFile(join(dest, 'provenance.json'), 'utf8')) as Provenance;
  return unpackedKernel(join(dest, 'root'), `${e.package}=${e.version} from the Debian snapshot archive`, { spec, ...prov });
}

/** Downloads, verifies and unpacks the catalog's Debian snapshot package; a cached one needs no network. */
export async function fetchDebianSnapshot(spec: string, e: DebianSnapshotEntry, f: SnapshotFetch): Promise<ResolvedKernel> {
  const dest = snapshotCacheDir(f.cacheRoot, e);
  if (existsSync(join(dest, '.complete'))) return load(dest, spec, e);
  const log = f.log ?? (() => undefined);
  const base = `${f.mirrors['debian-snapshot']}/${e.timestamp}`;
  const dists = `${base}/dists/${e.suite}`;
  const keyring = await debianArchiveKeyring(f.cacheRoot, f.env);
  const work = join(f.cacheRoot, 'downloads', 'work', `debian-snapshot-${process.pid}-${Date.now()}`);
  await fs.mkdir(work, { recursive: true });
  let deb: string;
  let provenance: Provenance;
  try {
    const release = await signedRelease(dists, work, keyring);
    const index = parseRelease(release.text);
    if (index.suite !== e.suite && index.codename !== e.suite) {
      throw new VerificationError(
        `${release.url}: is the Release of suite ${index.suite ?? '?'} (codename ${index.codename ?? '?'}), not of ${e.suite} as vm/kernels.yaml says; not used`, 'other');
    }
    const signed = `signed by ${release.sig.signer} (${release.sig.fingerprint})`;
    const { packagesUrl, packages } = await packagesIndex(dists, index, `${release.url}, ${signed}`, e, f);
    const pkg = findPackage(packages, e.package, e.version);
    if (pkg === undefined) {
      const have = versionsOf(packages, e.package);
      throw new NotFoundError(packagesUrl,
        `${packagesUrl}: lists no amd64 ${e.package} at version ${e.version}` +
          `${have.length > 0 ? ` (it lists ${have.join(', ')})` : ' (nor any version of it)'}; vm/kernels.yaml's debian-snapshot entry names a package the suite did not have then`);
    }
    const name = pkg.filename.split('/').at(-1)!;
    log(`downloading ${base}/${pkg.filename} (sha256 ${pkg.sha256.slice(0, 16)}… from the signed ${e.suite} index)`);
    deb = await fetchVerified({
      url: `${base}/${pkg.filename}`, name, sha256: pkg.sha256, expectedFrom: `${packagesUrl}, listed in ${release.url} ${signed}`, cacheRoot: f.cacheRoot,
      ...(f.progress !== undefined ? { progress: f.progress } : {}),
    });
    provenance = {
      source: `debian-snapshot:${entryText(e)} (${name} from ${base}/; sha256 as in ${e.suite}'s Packages; Release ${signed})`,
      version: e.version,
    };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  await fillCacheDir(dest, async (tmp) => {
    await unpackDeb(deb, join(tmp, 'root'));
    await fs.writeFile(join(tmp, 'provenance.json'), `${JSON.stringify(provenance, null, 2)}\n`);
    await fs.writeFile(join(tmp, '.complete'), '');
  });
  return load(dest, spec, e);
}
