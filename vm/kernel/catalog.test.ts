import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../harness/errors.ts';
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
  });
});

describe('provideKernel for a tarball alias', () => {
  it('is unavailable at once (no download), saying how to provide the kernel', async () => {
    const started = Date.now();
    const err = await provideKernel(parseKernelSpec('4.13')).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(KernelUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('--kernel 4.13: comes from the kernel.org tarball https://cdn.kernel.org/pub/linux/kernel/v4.x/linux-4.13.16.tar.xz');
    expect(msg).toContain('--kernel tree:/path/to/linux-4.13.16');
    expect(msg).toContain('--kernel /path/to/bzImage');
  });
});
