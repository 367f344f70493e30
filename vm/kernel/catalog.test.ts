import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../harness/errors.ts';
import { resolveMirrors } from '../fetch/mirrors.ts';
import { CATALOG_FILE, loadCatalog, parseCatalog } from './catalog.ts';
import { KernelUnavailableError, provideKernel } from './provider.ts';
import { parseKernelSpec } from './spec.ts';

describe('vm/kernels.yaml', () => {
  it('lists every alias the matrix promises, Debian for 6.1 and 6.12, kernel.org tarballs for the rest', () => {
    const cat = loadCatalog();
    expect([...cat.keys()]).toEqual(['4.13', '4.14', '4.19', '5.4', '5.10', '5.15', '6.1', '6.6', '6.12']);
    for (const [alias, src] of cat) {
      expect(src.kind, alias).toBe(alias === '6.1' || alias === '6.12' ? 'debian' : 'tarball');
      if (src.kind === 'tarball') {
        expect(src.url).toMatch(new RegExp(`^https://cdn\\.kernel\\.org/pub/linux/kernel/v${alias.split('.')[0]}\\.x/linux-${alias.replace('.', '\\.')}(\\.\\d+)?\\.tar\\.xz$`));
        expect(src.checksums).toBe(`https://cdn.kernel.org/pub/linux/kernel/v${alias.split('.')[0]}.x/sha256sums.asc`);
        // the prebuilt packages are of the same release as the tarball
        expect(`linux-${src.ubuntuMainline?.slice(1)}.tar.xz`).toBe(src.url.split('/').at(-1));
        // Debian's package is of the same series (its own point release), named as Debian names its images
        if (src.debianSnapshot !== undefined) {
          expect(src.debianSnapshot.package, alias).toMatch(new RegExp(`^linux-image-${alias.replace('.', '\\.')}\\.0-\\d+-amd64(-unsigned)?$`));
          expect(src.debianSnapshot.version, alias).toMatch(new RegExp(`^${alias.replace('.', '\\.')}\\.\\d+-`));
        }
      }
    }
  });

  it("Debian patterns pick the generic amd64 images, not -rt or -cloud ones", () => {
    const cat = loadCatalog();
    const p61 = cat.get('6.1'), p612 = cat.get('6.12');
    if (p61?.kind !== 'debian' || p612?.kind !== 'debian') throw new Error('6.1 and 6.12 must come from Debian');
    expect(p61.pattern.test('linux-image-6.1.0-56-amd64-unsigned')).toBe(true);
    expect(p61.pattern.test('linux-image-6.1.0-56-cloud-amd64-unsigned')).toBe(false);
    expect(p61.pattern.test('linux-image-6.1.0-56-rt-amd64-unsigned')).toBe(false);
    expect(p61.pattern.test('linux-image-6.12.117+deb12-amd64-unsigned')).toBe(false);
    expect(p612.pattern.test('linux-image-6.12.117+deb12-amd64-unsigned')).toBe(true);
    expect(p612.pattern.test('linux-image-6.12.117+deb12-cloud-amd64-unsigned')).toBe(false);
  });

  it('names the file and field of a broken catalog', () => {
    expect(() => parseCatalog('kernels:\n  "4.13": { tarball: not-a-url, checksums: https://x/y }\n', 'k.yaml')).toThrow(UsageError);
    expect(() => parseCatalog('kernels:\n  "latest": { debian: x }\n', 'k.yaml')).toThrow(/^k\.yaml: kernels\.latest: alias must be <major>\.<minor>/);
    expect(() => parseCatalog('kernels:\n  "6.1": { debian: "(" }\n', 'k.yaml')).toThrow(/^k\.yaml: kernels\.6\.1\.debian: not a regular expression/);
    expect(parseCatalog(readFileSync(CATALOG_FILE, 'utf8')).size).toBe(9);
    const tar = 'tarball: https://x/linux-4.13.16.tar.xz, checksums: https://x/sha256sums.asc';
    expect(() => parseCatalog(`kernels:\n  "4.13": { ${tar}, debian-snapshot: { timestamp: 2017-11-25, suite: unstable, package: linux-image-4.13.0-1-amd64, version: 4.13.13-1 } }\n`, 'k.yaml'))
      .toThrow(/^k\.yaml: kernels\.4\.13\.debian-snapshot\.timestamp: expected a snapshot\.debian\.org timestamp like 20171125T000000Z/);
    expect(() => parseCatalog(`kernels:\n  "4.13": { ${tar}, debian-snapshot: { timestamp: 20171125T000000Z, suite: unstable, package: linux-4.13, version: 4.13.13-1 } }\n`, 'k.yaml'))
      .toThrow(/kernels\.4\.13\.debian-snapshot\.package: expected a linux-image-\* package name/);
  });
});

describe('provideKernel for a tarball alias', () => {
  it('is unavailable when no archive answers, with the how-to in the message and a one-line reason for the cells', async () => {
    // A 127.0.0.1 port nothing listens on: the connection is refused at once, as offline.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const mirrors = resolveMirrors({}, {
      'kernel.org': `http://127.0.0.1:${port}/pub/linux/kernel`, 'ubuntu-mainline': `http://127.0.0.1:${port}/mainline`, 'debian-snapshot': `http://127.0.0.1:${port}/archive/debian`,
    });
    const saved = process.env.IH_CACHE_DIR;
    process.env.IH_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ih-catalog-'));
    try {
      const started = Date.now();
      const err = await provideKernel(parseKernelSpec('4.13'), { mirrors }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(err).toBeInstanceOf(KernelUnavailableError);
      const msg = (err as Error).message;
      expect(msg).toContain("--kernel 4.13: Debian's linux-image-4.13.0-1-amd64=4.13.13-1 (snapshot 20171125T000000Z), Ubuntu's mainline packages (v4.13.16) and the kernel.org tarball https://cdn.kernel.org/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz (vm/kernels.yaml) could not be downloaded");
      expect(msg).toContain(`http://127.0.0.1:${port}/archive/debian/20171125T000000Z/dists/unstable/InRelease: fetch failed`);
      expect(msg).toContain(`http://127.0.0.1:${port}/mainline/v4.13.16/amd64/: fetch failed`);
      expect(msg).toContain(`http://127.0.0.1:${port}/pub/linux/kernel/v4.x/sha256sums.asc: fetch failed`);
      expect(msg).toContain('--mirror kernel.org=<url>');
      expect(msg).toContain('--mirror debian-snapshot=<url>');
      expect(msg).toContain('--kernel tree:/path/to/linux-4.13.16');
      expect(msg).toContain('--kernel /path/to/bzImage');
      expect((err as KernelUnavailableError).short).toBe('could not be downloaded');
    } finally {
      rmSync(process.env.IH_CACHE_DIR, { recursive: true, force: true });
      if (saved === undefined) delete process.env.IH_CACHE_DIR;
      else process.env.IH_CACHE_DIR = saved;
    }
  });
});
