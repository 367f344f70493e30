import { execa } from 'execa';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../harness/errors.ts';
import { dearmor } from './gpgv.ts';
import { debianArchiveKeyFiles, kernelOrgKeyFiles } from './keyrings.ts';
import { onMirror, parseMirrorOptions, resolveMirrors } from './mirrors.ts';

describe('mirrors', () => {
  it('take --mirror over IH_MIRROR_* over the canonical host, and keep the archive layout below the base', () => {
    const m = resolveMirrors({ IH_MIRROR_KERNEL_ORG: 'http://127.0.0.1:1/k/', IH_MIRROR_UBUNTU_MAINLINE: 'http://127.0.0.1:1/u' }, parseMirrorOptions(['ubuntu-mainline=http://127.0.0.1:2/mainline']));
    expect(m['kernel.org']).toBe('http://127.0.0.1:1/k');
    expect(m['ubuntu-mainline']).toBe('http://127.0.0.1:2/mainline');
    expect(onMirror('https://cdn.kernel.org/pub/linux/kernel/v4.x/sha256sums.asc', 'kernel.org', m)).toBe('http://127.0.0.1:1/k/v4.x/sha256sums.asc');
    expect(resolveMirrors({})['kernel.org']).toBe('https://cdn.kernel.org/pub/linux/kernel');
    expect(resolveMirrors({})['debian-snapshot']).toBe('https://snapshot.debian.org/archive/debian');
    const d = resolveMirrors({ IH_MIRROR_DEBIAN_SNAPSHOT: 'http://127.0.0.1:1/debian/' }, parseMirrorOptions(['debian-snapshot=http://127.0.0.1:3/archive/debian']));
    expect(d['debian-snapshot']).toBe('http://127.0.0.1:3/archive/debian');
    expect(resolveMirrors({ IH_MIRROR_DEBIAN_SNAPSHOT: 'http://127.0.0.1:1/debian/' })['debian-snapshot']).toBe('http://127.0.0.1:1/debian');
  });

  it('refuse an unknown source or a non-http URL, naming the option', () => {
    expect(() => parseMirrorOptions(['kernel-org=http://x'])).toThrow(UsageError);
    expect(() => parseMirrorOptions(['kernel-org=http://x'])).toThrow(/^--mirror kernel-org=http:\/\/x: expected <source>=<url> with source one of kernel\.org, ubuntu-mainline, debian-snapshot, debian$/);
    expect(() => parseMirrorOptions(['kernel.org=ftp://x'])).toThrow(/--mirror kernel\.org: 'ftp:\/\/x' must be an http\(s\) URL/);
    expect(() => resolveMirrors({ IH_MIRROR_KERNEL_ORG: 'nope' })).toThrow(/^IH_MIRROR_KERNEL_ORG: 'nope' is not a URL/);
  });
});

describe('dearmor', () => {
  it('gives the same packets as gpg --dearmor for the shipped keys', async () => {
    for (const f of [...kernelOrgKeyFiles({}), ...debianArchiveKeyFiles({})]) {
      const home = mkdtempSync(join(tmpdir(), 'ih-dearmor-'));
      const r = await execa('gpg', ['--dearmor'], { input: readFileSync(f), encoding: 'buffer', env: { ...process.env, GNUPGHOME: home } });
      expect(dearmor(readFileSync(f, 'latin1'), f).equals(Buffer.from(r.stdout))).toBe(true);
    }
  });
});
