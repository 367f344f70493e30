import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from './config.ts';
import { UsageError } from './errors.ts';
import { bindKernelOptions, type KernelOptionEvent } from './kernel-options.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-kopts-'));
const fix = join(dir, 'fix.patch');
const other = join(dir, 'other.patch');
const kasan = join(dir, 'kasan.config');
for (const f of [fix, other, kasan]) writeFileSync(f, '');

const ev = (...pairs: Array<[KernelOptionEvent['option'], string]>): KernelOptionEvent[] => pairs.map(([option, value]) => ({ option, value }));

describe('bindKernelOptions', () => {
  it('binds build options to the --kernel before them', () => {
    const specs = bindKernelOptions(ev(['kernel', 'src:6.1'], ['kernel', 'src:6.1'], ['patch', fix], ['make-arg', 'CC=gcc-12']), '6.1');
    expect(specs).toHaveLength(2);
    expect(specs[0]).toMatchObject({ kind: 'src', text: 'src:6.1', build: { patches: [], kconfig: [], makeArgs: [] } });
    expect(specs[1]).toMatchObject({
      kind: 'src',
      text: `src:6.1 --patch ${fix} --make-arg CC=gcc-12`,
      build: { patches: [fix], kconfig: [], makeArgs: ['CC=gcc-12'] },
    });
  });

  it('applies options given before any --kernel to every source kernel, first, and leaves prebuilt ones alone', () => {
    const specs = bindKernelOptions(
      ev(['patch', fix], ['kconfig', kasan], ['kernel', '6.1'], ['kernel', 'tree:/src/linux@v6.1'], ['patch', other], ['kernel', 'src:6.1']),
      '6.1',
    );
    expect(specs.map((s) => s.kind)).toEqual(['alias', 'tree', 'src']);
    expect(specs[0]).toEqual({ kind: 'alias', text: '6.1', version: '6.1' });
    expect(specs[1]).toMatchObject({ path: '/src/linux', ref: 'v6.1', build: { patches: [fix, other], kconfig: [kasan] } });
    expect(specs[2]).toMatchObject({ build: { patches: [fix], kconfig: [kasan], makeArgs: [] } });
  });

  it('treats a kernel.org tarball alias of the catalog as a source kernel, so an old tree can get its compiler', () => {
    const specs = bindKernelOptions(ev(['kernel', '4.13'], ['make-arg', 'CC=gcc-8'], ['patch', fix]), '6.1');
    expect(specs[0]).toMatchObject({ kind: 'tarball', version: '4.13', build: { makeArgs: ['CC=gcc-8'], patches: [fix] } });
  });

  it('binds --toolchain-image like the other build options, once per kernel, and carries it in the spec text', () => {
    const specs = bindKernelOptions(
      ev(['toolchain-image', 'debian:bullseye-gcc'], ['kernel', 'tree:/src/linux-4.13'], ['kernel', 'src:6.1'], ['toolchain-image', 'own:img']),
      '6.1',
    );
    expect(specs[0]).toMatchObject({ text: 'tree:/src/linux-4.13 --toolchain-image debian:bullseye-gcc', build: { toolchainImage: 'debian:bullseye-gcc' } });
    expect(specs[1]).toMatchObject({ text: 'src:6.1 --toolchain-image own:img', build: { toolchainImage: 'own:img' } });
    expect(() => bindKernelOptions(ev(['kernel', 'src:6.1'], ['toolchain-image', 'a'], ['toolchain-image', 'b']), '6.1')).toThrow(
      new UsageError('--toolchain-image is given twice for --kernel src:6.1 (a, b); give it once'),
    );
    expect(() => bindKernelOptions(ev(['kernel', '6.1'], ['toolchain-image', 'a']), '6.1')).toThrow(/not built here/);
  });

  it('refuses a build option bound to a prebuilt kernel, naming both', () => {
    expect(() => bindKernelOptions(ev(['kernel', 'src:6.1'], ['kernel', '6.1'], ['patch', fix]), '6.1')).toThrow(
      new UsageError(`--patch ${fix} follows --kernel 6.1, which is not built here; build options apply to src:<version> and tree:<path> kernels`),
    );
  });

  it('refuses run-wide build options when no kernel is built from source', () => {
    expect(() => bindKernelOptions(ev(['patch', fix]), '6.1')).toThrow(/default kernel 6\.1 is a prebuilt package/);
    expect(() => bindKernelOptions(ev(['make-arg', 'CC=gcc-12'], ['kernel', '6.12']), '6.1')).toThrow(/no --kernel src:<version> or tree:<path>/);
  });

  it('refuses missing patch and fragment files before anything is built', () => {
    expect(() => bindKernelOptions(ev(['kernel', 'src:6.1'], ['patch', join(dir, 'nope.patch')]), '6.1')).toThrow(/--patch .*nope\.patch: no such file/);
    expect(() => bindKernelOptions(ev(['kernel', 'src:6.1'], ['kconfig', dir]), '6.1')).toThrow(/--kconfig .*: no such file/);
  });

  it('refuses the same kernel twice', () => {
    expect(() => bindKernelOptions(ev(['kernel', 'src:6.1'], ['kernel', 'src:6.1 ']), '6.1')).toThrow(/given twice/);
  });

  it('uses the default kernel when none is given', () => {
    expect(bindKernelOptions([], '6.1')).toEqual([{ kind: 'alias', text: '6.1', version: '6.1' }]);
  });
});

describe('parseMatrixArgs kernel options', () => {
  it('keeps command-line order across --kernel, --patch, --kconfig and --make-arg', () => {
    const cfg = parseMatrixArgs(['--patch', fix, '-k', 'src:6.1', '--kernel', 'tree:/src/linux', '--kconfig', kasan, '--make-arg', 'V=1', '--jobs', '1']);
    expect(cfg.kernels).toMatchObject([
      { kind: 'src', build: { patches: [fix], kconfig: [], makeArgs: [] } },
      { kind: 'tree', path: '/src/linux', build: { patches: [fix], kconfig: [kasan], makeArgs: ['V=1'] } },
    ]);
  });

  it('reports a malformed spec as a usage error', () => {
    expect(() => parseMatrixArgs(['--kernel', 'src:six'])).toThrow(UsageError);
    expect(() => parseMatrixArgs(['--kernel', 'tree:'])).toThrow(/tree:<path>\[@<ref>\]/);
  });
});
