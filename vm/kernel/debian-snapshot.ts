// Prebuilt kernels from Debian's snapshot archive (snapshot.debian.org/archive/debian/<timestamp>/): Debian's
// own build of an old series, as a suite listed it at that moment. Checked the way apt checks it, from the root
// down: the suite's InRelease (or Release + Release.gpg) must carry a valid signature by a key in the Debian
// archive keyring shipped in vm/keys/debian (a key that has expired since still counts: snapshots are old);
// main/binary-amd64/Packages must have the sha256 Release gives it; the .deb the sha256 Packages gives it.
// Then the package is unpacked (dpkg-deb -x, never installed) and boots like Debian 12's own kernel packages.
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';
import { fillCacheDir } from '../cache.ts';
import { fetchBytes } from '../fetch/download.ts';
import { DownloadError, NotFoundError, VerificationError } from '../fetch/errors.ts';
import { verifyClearsignedByAny, verifyDetachedByAny, type GoodSignature } from '../fetch/gpgv.ts';
import { debianArchiveKeyring } from '../fetch/keyrings.ts';
import type { Mirrors } from '../fetch/mirrors.ts';
import type { ProgressFactory } from '../fetch/progress.ts';
import { fetchVerified } from '../fetch/store.ts';
import type { DebianArchiveEntry, DebianSnapshotEntry } from './catalog.ts';
import { findPackage, packagesMatching, parseRelease, versionsOf, type PackageEntry, type ReleaseIndex } from './deb-index.ts';
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
async function packagesIndex(dists: string, index: ReleaseIndex, expectedFrom: string, indexName: string, f: SnapshotFetch): Promise<{ packagesUrl: string; packages: string }> {
  const listed = PACKAGES.filter((p) => index.sha256.has(p.path));
  if (listed.length === 0) {
    throw new VerificationError(`${dists}: its Release's SHA256 field lists no ${PACKAGES.map((p) => p.path).join(', ')}; nothing to check the package against`, 'other');
  }
  let missing: NotFoundError | undefined;
  for (const p of listed) {
    const packagesUrl = `${dists}/${p.path}`;
    try {
      const file = await fetchVerified({
        url: packagesUrl, name: `${indexName}-${p.path.split('/').at(-1)!}`, sha256: index.sha256.get(p.path)!.sha256,
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
  return debCacheDir(cacheRoot, 'debian-snapshot', e.package, e.version);
}

function debCacheDir(cacheRoot: string, kind: string, pkg: string, version: string): string {
  return join(cacheRoot, 'kernels', kind, `${pkg}_${version.replace(/[^A-Za-z0-9.+~-]/g, '_')}`);
}

async function load(dest: string, spec: string, what: string): Promise<ResolvedKernel> {
  const prov = JSON.parse(await fs.readFile(join(dest, 'provenance.json'), 'utf8')) as Provenance;
  return unpackedKernel(join(dest, 'root'), what, { spec, ...prov });
}

/** One kernel package found through a suite's signed index: which, and where its bytes are. */
interface Chosen extends PackageEntry {
  package: string;
  version: string;
}

interface IndexedDeb {
  /** the archive root: dists/ and pool/ are below it */
  base: string;
  suite: string;
  /** names the Packages file in the download store */
  indexName: string;
  /** the cache folder under kernels/ */
  cacheKind: string;
  /** says where the package came from, in the kernel's source */
  sourceText: (c: Chosen, debName: string, signed: string) => string;
  /** the package to fetch, from the suite's Packages text; throws NotFoundError naming what is missing */
  choose: (packages: string, packagesUrl: string) => Promise<Chosen>;
}

/**
 * A kernel package through a suite's signed index, as apt checks it: Release (signed), Packages (its sha256 in
 * Release), the .deb (its sha256 in Packages); then unpacked (dpkg-deb -x, never installed).
 */
async function fetchIndexedDeb(spec: string, o: IndexedDeb, f: SnapshotFetch): Promise<{ kernel: ResolvedKernel; dest: string }> {
  const log = f.log ?? (() => undefined);
  const dists = `${o.base}/dists/${o.suite}`;
  const keyring = await debianArchiveKeyring(f.cacheRoot, f.env);
  const work = join(f.cacheRoot, 'downloads', 'work', `${o.cacheKind}-${process.pid}-${Date.now()}`);
  await fs.mkdir(work, { recursive: true });
  let deb: string;
  let provenance: Provenance;
  let dest: string;
  let chosen: Chosen;
  try {
    const release = await signedRelease(dists, work, keyring);
    const index = parseRelease(release.text);
    if (index.suite !== o.suite && index.codename !== o.suite) {
      throw new VerificationError(
        `${release.url}: is the Release of suite ${index.suite ?? '?'} (codename ${index.codename ?? '?'}), not of ${o.suite} as vm/kernels.yaml says; not used`, 'other');
    }
    const signed = `signed by ${release.sig.signer} (${release.sig.fingerprint})`;
    const { packagesUrl, packages } = await packagesIndex(dists, index, `${release.url}, ${signed}`, o.indexName, f);
    chosen = await o.choose(packages, packagesUrl);
    dest = debCacheDir(f.cacheRoot, o.cacheKind, chosen.package, chosen.version);
    const what = `${chosen.package}=${chosen.version} from ${o.base}`;
    if (existsSync(join(dest, '.complete'))) return { kernel: await load(dest, spec, what), dest };
    const name = chosen.filename.split('/').at(-1)!;
    log(`downloading ${o.base}/${chosen.filename} (sha256 ${chosen.sha256.slice(0, 16)}… from the signed ${o.suite} index)`);
    deb = await fetchVerified({
      url: `${o.base}/${chosen.filename}`, name, sha256: chosen.sha256, expectedFrom: `${packagesUrl}, listed in ${release.url} ${signed}`, cacheRoot: f.cacheRoot,
      ...(f.progress !== undefined ? { progress: f.progress } : {}),
    });
    provenance = { source: o.sourceText(chosen, name, signed), version: chosen.version };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
  await fillCacheDir(dest, async (tmp) => {
    await unpackDeb(deb, join(tmp, 'root'));
    await fs.writeFile(join(tmp, 'provenance.json'), `${JSON.stringify(provenance, null, 2)}\n`);
    await fs.writeFile(join(tmp, '.complete'), '');
  });
  return { kernel: await load(dest, spec, `${chosen.package}=${chosen.version} from ${o.base}`), dest };
}

/** Downloads, verifies and unpacks the catalog's Debian snapshot package; a cached one needs no network. */
export async function fetchDebianSnapshot(spec: string, e: DebianSnapshotEntry, f: SnapshotFetch): Promise<ResolvedKernel> {
  const dest = snapshotCacheDir(f.cacheRoot, e);
  const what = `${e.package}=${e.version} from the Debian snapshot archive`;
  if (existsSync(join(dest, '.complete'))) return load(dest, spec, what);
  const base = `${f.mirrors['debian-snapshot']}/${e.timestamp}`;
  const got = await fetchIndexedDeb(spec, {
    base, suite: e.suite, indexName: `${e.suite}-${e.timestamp}`, cacheKind: 'debian-snapshot',
    sourceText: (_c, name, signed) => `debian-snapshot:${entryText(e)} (${name} from ${base}/; sha256 as in ${e.suite}'s Packages; Release ${signed})`,
    choose: async (packages, packagesUrl) => {
      const pkg = findPackage(packages, e.package, e.version);
      if (pkg !== undefined) return { ...pkg, package: e.package, version: e.version };
      const have = versionsOf(packages, e.package);
      throw new NotFoundError(packagesUrl,
        `${packagesUrl}: lists no amd64 ${e.package} at version ${e.version}` +
          `${have.length > 0 ? ` (it lists ${have.join(', ')})` : ' (nor any version of it)'}; vm/kernels.yaml's debian-snapshot entry names a package the suite did not have then`);
    },
  }, f);
  return got.kernel;
}

/**
 * The newest matching kernel package of a suite in Debian's archive (deb.debian.org, or the `debian` mirror),
 * checked through the suite's signed index. The package the last download chose is remembered, so a run
 * without the network uses it, and says so.
 */
export async function fetchDebianArchive(spec: string, e: DebianArchiveEntry, f: SnapshotFetch): Promise<ResolvedKernel> {
  const base = f.mirrors.debian;
  const pointer = join(f.cacheRoot, 'kernels', 'debian-archive', `${e.suite}-${Buffer.from(e.package.source).toString('hex').slice(0, 32)}.last`);
  try {
    const got = await fetchIndexedDeb(spec, {
      base, suite: e.suite, indexName: `${e.suite}-current`, cacheKind: 'debian-archive',
      sourceText: (c, name, signed) => `debian:${e.suite}/${c.package}=${c.version} (${name} from ${base}/; sha256 as in ${e.suite}'s Packages; Release ${signed})`,
      choose: async (packages, packagesUrl) => {
        const found = packagesMatching(packages, e.package);
        if (found.length === 0) throw new NotFoundError(packagesUrl, `${packagesUrl}: lists no amd64 package matching ${e.package.source}`);
        let best = found[0]!;
        for (const c of found.slice(1)) if (await debVersionGreater(c.version, best.version)) best = c;
        return best;
      },
    }, f);
    await fs.mkdir(dirname(pointer), { recursive: true });
    await fs.writeFile(pointer, got.dest);
    return got.kernel;
  } catch (err) {
    if (!(err instanceof DownloadError) || err instanceof NotFoundError) throw err;
    const last = await fs.readFile(pointer, 'utf8').catch(() => undefined);
    if (last === undefined || !existsSync(join(last, '.complete'))) throw err;
    (f.log ?? (() => undefined))(`${base} unreachable (${err.message}); using the package the last download chose, ${last}`);
    return load(last, spec, `${last} (cached; ${base} unreachable)`);
  }
}

/** dpkg's version order (epochs, ~, revisions), asked of dpkg itself. */
async function debVersionGreater(a: string, b: string): Promise<boolean> {
  return (await execa('dpkg', ['--compare-versions', a, 'gt', b], { reject: false })).exitCode === 0;
}
