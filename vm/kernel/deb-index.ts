// Debian archive indexes as the snapshot archive serves them: a Release file (the signed root: suite names
// and the sha256 of every index below it) and a Packages file (one stanza per binary package: its pool path
// and sha256). Only the fields the download needs are read.

/** One control-file stanza's fields (the value of a multi-line field keeps its continuation lines). */
function stanzaFields(stanza: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | undefined;
  for (const line of stanza.split('\n')) {
    if (/^[ \t]/.test(line) && last !== undefined) {
      fields.set(last, `${fields.get(last)!}\n${line.trim()}`);
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):[ \t]*(.*)$/.exec(line);
    if (m === null) continue;
    last = m[1]!;
    fields.set(last, m[2]!.trim());
  }
  return fields;
}

export interface IndexedFile {
  sha256: string;
  size: number;
}

export interface ReleaseIndex {
  suite?: string;
  codename?: string;
  /** path below dists/<suite>/ -> sha256 and size, from the SHA256 field */
  sha256: Map<string, IndexedFile>;
}

export function parseRelease(text: string): ReleaseIndex {
  const f = stanzaFields(text.replace(/\r\n/g, '\n'));
  const sha256 = new Map<string, IndexedFile>();
  for (const line of (f.get('SHA256') ?? '').split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(line.trim());
    if (m !== null) sha256.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  }
  return { ...(f.has('Suite') ? { suite: f.get('Suite')! } : {}), ...(f.has('Codename') ? { codename: f.get('Codename')! } : {}), sha256 };
}

export interface PackageEntry extends IndexedFile {
  /** pool path relative to the archive root, e.g. pool/main/l/linux/linux-image-4.13.0-1-amd64_4.13.13-1_amd64.deb */
  filename: string;
}

/** The stanza of `pkg` at exactly `version` for `arch`, if the Packages file has one. */
export function findPackage(text: string, pkg: string, version: string, arch = 'amd64'): PackageEntry | undefined {
  for (const stanza of text.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    // cheap pre-filter: the Packages file of unstable has tens of thousands of stanzas
    if (!stanza.includes(pkg)) continue;
    const f = stanzaFields(stanza);
    if (f.get('Package') !== pkg || f.get('Version') !== version || f.get('Architecture') !== arch) continue;
    const filename = f.get('Filename');
    const sha256 = f.get('SHA256');
    if (filename === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    return { filename, sha256, size: Number(f.get('Size') ?? NaN) };
  }
  return undefined;
}

/** Every amd64 stanza whose package name matches `pattern`, with its name and version (Debian's current archive). */
export function packagesMatching(text: string, pattern: RegExp, arch = 'amd64'): Array<PackageEntry & { package: string; version: string }> {
  const out: Array<PackageEntry & { package: string; version: string }> = [];
  for (const stanza of text.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    if (!stanza.includes('linux-image-')) continue;
    const f = stanzaFields(stanza);
    const name = f.get('Package');
    if (name === undefined || !pattern.test(name) || f.get('Architecture') !== arch) continue;
    const filename = f.get('Filename');
    const sha256 = f.get('SHA256');
    const version = f.get('Version');
    if (filename === undefined || version === undefined || sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) continue;
    out.push({ package: name, version, filename, sha256, size: Number(f.get('Size') ?? NaN) });
  }
  return out;
}

/** Versions of `pkg` the Packages file lists, for an error message when the catalog's version is not among them. */
export function versionsOf(text: string, pkg: string): string[] {
  const out: string[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    if (!stanza.includes(pkg)) continue;
    const f = stanzaFields(stanza);
    if (f.get('Package') === pkg) out.push(f.get('Version') ?? '?');
  }
  return out;
}
