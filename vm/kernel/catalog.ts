import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { UsageError } from '../../harness/errors.ts';
import { tarballFiles } from './tarball.ts';

/** A Debian kernel package as the snapshot archive holds it: the suite's index at that moment lists it. */
export interface DebianSnapshotEntry {
  /** snapshot.debian.org timestamp (YYYYMMDDTHHMMSSZ): the archive as it was at its last import before then */
  timestamp: string;
  /** dists/<suite> whose signed Release and Packages list the package then */
  suite: string;
  package: string;
  version: string;
}

/** Where a version alias comes from (vm/kernels.yaml). */
export type CatalogSource =
  | { kind: 'debian'; alias: string; pattern: RegExp; note?: string }
  // A kernel.org release; `debianSnapshot` and `ubuntuMainline` name prebuilt packages of the series, tried first.
  | {
      kind: 'tarball'; alias: string; url: string; checksums: string; debianArchive?: DebianArchiveEntry; debianSnapshot?: DebianSnapshotEntry;
      ubuntuMainline?: string; note?: string;
    };

/** A series Debian still publishes (deb.debian.org): the newest package of the suite whose name matches. */
export interface DebianArchiveEntry {
  suite: string;
  package: RegExp;
}

export const CATALOG_FILE = fileURLToPath(new URL('../kernels.yaml', import.meta.url));

const entry = z.union([
  z.object({ debian: z.string().min(1), note: z.string().optional() }).strict(),
  z.object({
    tarball: z.url(),
    checksums: z.url(),
    'ubuntu-mainline': z.string().regex(/^v\d+\.\d+(\.\d+)?$/, 'expected a mainline directory name like v4.13.16').optional(),
    'debian-archive': z.object({
      suite: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a suite name like bullseye'),
      package: z.string().regex(/^\^linux-image-/, 'expected a regular expression for linux-image-* package names, like ^linux-image-5\.10\.0-[0-9]+-amd64-unsigned$'),
    }).strict().optional(),
    'debian-snapshot': z.object({
      timestamp: z.string().regex(/^\d{8}T\d{6}Z$/, 'expected a snapshot.debian.org timestamp like 20171125T000000Z'),
      suite: z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a suite name like unstable or buster'),
      package: z.string().regex(/^linux-image-[a-z0-9][a-z0-9.+-]*$/, 'expected a linux-image-* package name'),
      version: z.string().regex(/^[0-9][A-Za-z0-9.+~:-]*$/, 'expected a Debian version like 4.13.13-1'),
    }).strict().optional(),
    note: z.string().optional(),
  }).strict(),
]);
const catalogSchema = z.object({ kernels: z.record(z.string(), entry) }).strict();

export function parseCatalog(text: string, file = CATALOG_FILE): Map<string, CatalogSource> {
  const parsed = catalogSchema.safeParse(parseYaml(text));
  if (!parsed.success) {
    throw new UsageError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ')}`);
  }
  const out = new Map<string, CatalogSource>();
  for (const [alias, e] of Object.entries(parsed.data.kernels)) {
    // --kernel reads <major>.<minor> as an alias; any other key could never be asked for.
    if (!/^\d+\.\d+$/.test(alias)) throw new UsageError(`${file}: kernels.${alias}: alias must be <major>.<minor>`);
    const note = e.note !== undefined ? { note: e.note } : {};
    if ('debian' in e) {
      let pattern: RegExp;
      try {
        pattern = new RegExp(e.debian);
      } catch (err) {
        throw new UsageError(`${file}: kernels.${alias}.debian: not a regular expression: ${(err as Error).message}`);
      }
      out.set(alias, { kind: 'debian', alias, pattern, ...note });
    } else {
      const mainline = e['ubuntu-mainline'] !== undefined ? { ubuntuMainline: e['ubuntu-mainline'] } : {};
      const snapshot = e['debian-snapshot'] !== undefined ? { debianSnapshot: e['debian-snapshot'] } : {};
      const da = e['debian-archive'];
      let archive = {};
      if (da !== undefined) {
        try {
          archive = { debianArchive: { suite: da.suite, package: new RegExp(da.package) } };
        } catch (err) {
          throw new UsageError(`${file}: kernels.${alias}.debian-archive.package: not a regular expression: ${(err as Error).message}`);
        }
      }
      out.set(alias, { kind: 'tarball', alias, url: e.tarball, checksums: e.checksums, ...archive, ...snapshot, ...mainline, ...note });
    }
  }
  return out;
}

let cached: Map<string, CatalogSource> | undefined;

export function loadCatalog(): Map<string, CatalogSource> {
  cached ??= parseCatalog(readFileSync(CATALOG_FILE, 'utf8'));
  return cached;
}

/**
 * The how-to for a kernel.org alias that could not be downloaded (offline, archive down): why, then every other
 * way to provide it. Printed once per kernel (at the start and in summary.json), never per cell.
 */
export function tarballUnavailableMessage(src: Extract<CatalogSource, { kind: 'tarball' }>, cacheRoot: string, why: readonly string[] = []): string {
  const name = src.url.split('/').at(-1)!.replace(/\.tar\.[a-z0-9]+$/, '');
  const files = tarballFiles({ alias: src.alias, url: src.url, checksums: src.checksums }, cacheRoot);
  const tried = [
    ...(src.debianSnapshot !== undefined ? [`Debian's ${src.debianSnapshot.package}=${src.debianSnapshot.version} (snapshot ${src.debianSnapshot.timestamp})`] : []),
    ...(src.ubuntuMainline !== undefined ? [`Ubuntu's mainline packages (${src.ubuntuMainline})`] : []),
    `the kernel.org tarball ${src.url} (vm/kernels.yaml)`,
  ];
  const list = tried.length === 1 ? tried[0]! : `${tried.slice(0, -1).join(', ')} and ${tried.at(-1)!}`;
  return `--kernel ${src.alias}: ${list} could not be downloaded` +
    `${why.length > 0 ? ` (${why.join('; ')})` : ''}. ` +
    `Reach a mirror with --mirror kernel.org=<url>, --mirror ubuntu-mainline=<url> or --mirror debian-snapshot=<url> ` +
    `(or IH_MIRROR_KERNEL_ORG, IH_MIRROR_UBUNTU_MAINLINE, IH_MIRROR_DEBIAN_SNAPSHOT); ` +
    `or pass --kernel tree:/path/to/${name} (the unpacked tarball) or tree:/path/to/linux@v${name.replace(/^linux-/, '')} (a git checkout), ` +
    `or a built --kernel /path/to/bzImage [--modules DIR]; or put the tarball at ${files.tarball} and ${src.checksums} at ${files.checksums} ` +
    `(sha256 checked against the list, its signature with gpgv against vm/keys/kernel.org or IH_KERNEL_ORG_KEYRING)`;
}
