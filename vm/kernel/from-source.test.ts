import { describe, expect, it } from 'vitest';
import type { BuiltKernel } from './build.ts';
import { builtKernelLabel, resolvedFromBuilt, sourceFor, unbuiltKernelLabel } from './from-source.ts';
import { noBuildOptions, parseKernelSpec, withBuildOptions, type SourceKernelSpec } from './spec.ts';

const src = (text: string) => parseKernelSpec(text) as SourceKernelSpec;
const opts = { patches: ['/p/scenarios/regressions/4.13-bio-integrity-endio.patch'], kconfig: ['/k/kasan.config'], makeArgs: ['CC=gcc-12'] };

describe('sourceFor', () => {
  it('maps src: to the Debian package and tree: to an absolute path with its ref', () => {
    expect(sourceFor(src('src:6.1'))).toEqual({ kind: 'debian-src', version: '6.1' });
    expect(sourceFor(src('tree:/src/linux@v6.1-rc1'))).toEqual({ kind: 'tree', path: '/src/linux', ref: 'v6.1-rc1' });
    expect(sourceFor(src('tree:rel/linux'))).toMatchObject({ kind: 'tree', path: expect.stringMatching(/^\/.*\/rel\/linux$/) });
  });
});

describe('kernel labels', () => {
  it('tell apart builds of one source with different patches, fragments and make args', () => {
    expect(builtKernelLabel('6.1.192', undefined, noBuildOptions())).toBe('6.1.192');
    expect(builtKernelLabel('6.1.192', undefined, opts)).toBe('6.1.192+4.13-bio-integrity-endio+kasan+CC-gcc-12');
    expect(builtKernelLabel('6.1.0', 'g1a2b3c4d5e6-dirty', noBuildOptions())).toBe('6.1.0-g1a2b3c4d5e6-dirty');
    expect(builtKernelLabel('6.1.192+', 'g1a2b3c4d5e6', noBuildOptions())).toBe('6.1.192-g1a2b3c4d5e6');
  });

  it('name a kernel that did not build by its spec', () => {
    expect(unbuiltKernelLabel(withBuildOptions(src('src:6.1'), opts))).toBe('src:6.1+4.13-bio-integrity-endio+kasan+CC-gcc-12');
    expect(unbuiltKernelLabel(src('tree:/src/linux@v6.1'))).toBe('tree:/src/linux@v6.1');
  });

  it('carry the build into the resolved kernel', () => {
    const built: BuiltKernel = {
      bootImage: '/c/kernels/k/vmlinux', bootImageName: 'vmlinux', release: '6.1.192', configPath: '/c/kernels/k/config', buildLog: '/c/logs/k.log', cacheKey: 'k',
      fromCache: true, sourceDescription: 'Debian linux-source-6.1', missingOptions: ['KASAN'], durationMs: 5,
    };
    const spec = withBuildOptions(src('src:6.1'), { ...noBuildOptions(), kconfig: ['/k/kasan.config'] });
    expect(resolvedFromBuilt(spec, built)).toEqual({
      spec: 'src:6.1 --kconfig /k/kasan.config', label: '6.1.192+kasan', bootImage: '/c/kernels/k/vmlinux', release: '6.1.192',
      source: 'built from Debian linux-source-6.1 (cached build)', version: 'k', buildLog: '/c/logs/k.log', configPath: '/c/kernels/k/config', missingOptions: ['KASAN'],
    });
  });
});
