// Where each public archive is reached: its canonical base URL, overridable per source by an environment
// variable or `--mirror <source>=<url>` (the option wins). Tests point these at a server on 127.0.0.1.
import { UsageError } from '../../harness/errors.ts';

export const MIRROR_SOURCES = {
  'kernel.org': { env: 'IH_MIRROR_KERNEL_ORG', base: 'https://cdn.kernel.org/pub/linux/kernel' },
  'ubuntu-mainline': { env: 'IH_MIRROR_UBUNTU_MAINLINE', base: 'https://kernel.ubuntu.com/mainline' },
  'debian-snapshot': { env: 'IH_MIRROR_DEBIAN_SNAPSHOT', base: 'https://snapshot.debian.org/archive/debian' },
  debian: { env: 'IH_MIRROR_DEBIAN', base: 'http://deb.debian.org/debian' },
} as const;

export type MirrorSource = keyof typeof MIRROR_SOURCES;

/** The base URL of every source, resolved once (option over environment over the canonical host). */
export type Mirrors = Readonly<Record<MirrorSource, string>>;

function isSource(name: string): name is MirrorSource {
  return Object.hasOwn(MIRROR_SOURCES, name);
}

function checkedBase(url: string, where: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${where}: '${url}' is not a URL (expected e.g. https://mirror.example/pub/linux/kernel)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`${where}: '${url}' must be an http(s) URL`);
  return url.replace(/\/+$/, '');
}

/** Parses `--mirror <source>=<url>` values; each names one of MIRROR_SOURCES. */
export function parseMirrorOptions(values: readonly string[]): Partial<Record<MirrorSource, string>> {
  const out: Partial<Record<MirrorSource, string>> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const name = eq > 0 ? v.slice(0, eq) : '';
    if (!isSource(name)) {
      throw new UsageError(`--mirror ${v}: expected <source>=<url> with source one of ${Object.keys(MIRROR_SOURCES).join(', ')}`);
    }
    out[name] = checkedBase(v.slice(eq + 1), `--mirror ${name}`);
  }
  return out;
}

export function resolveMirrors(env: NodeJS.ProcessEnv = process.env, options: Partial<Record<MirrorSource, string>> = {}): Mirrors {
  const out = {} as Record<MirrorSource, string>;
  for (const [name, s] of Object.entries(MIRROR_SOURCES) as [MirrorSource, (typeof MIRROR_SOURCES)[MirrorSource]][]) {
    const fromEnv = env[s.env];
    out[name] = options[name] ?? (fromEnv !== undefined && fromEnv !== '' ? checkedBase(fromEnv, s.env) : s.base);
  }
  return Object.freeze(out);
}

/**
 * A canonical URL (as vm/kernels.yaml writes it) on the chosen mirror: the source's canonical base is replaced
 * by the mirror's, so a mirror keeps the archive's own layout below it.
 */
export function onMirror(url: string, source: MirrorSource, mirrors: Mirrors): string {
  const base = MIRROR_SOURCES[source].base;
  if (!url.startsWith(`${base}/`)) return url;
  return `${mirrors[source]}${url.slice(base.length)}`;
}
