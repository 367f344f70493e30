import { UsageError } from '../../harness/errors.ts';
import { loadCatalog } from './catalog.ts';

/** What goes into a kernel built from source besides the source: --patch, --kconfig, --make-arg, in order. */
export interface KernelBuildOptions {
  patches: string[];
  kconfig: string[];
  makeArgs: string[];
  /** --toolchain-image: the container image whose toolchain builds it (vm/kernel/toolchain-container.ts). */
  toolchainImage?: string;
  /** --coverage: objects compiled with gcov counters (vm/kernel/build-coverage.ts); absent: no gcov kernel. */
  coverage?: string[];
}

/** What the user wrote after --kernel (and the build options given with it), parsed but not yet resolved to files. */
export type KernelSpec =
  | { kind: 'alias'; text: string; version: string }
  | { kind: 'deb'; text: string; pkg: string }
  | { kind: 'image'; text: string; path: string }
  | { kind: 'tree'; text: string; path: string; ref?: string; build: KernelBuildOptions }
  | { kind: 'src'; text: string; version: string; build: KernelBuildOptions }
  // A catalog alias whose source is a kernel.org tarball (vm/kernels.yaml): built like src:, so it takes --patch & co.
  | { kind: 'tarball'; text: string; version: string; build: KernelBuildOptions };

export type SourceKernelSpec = Extract<KernelSpec, { kind: 'tree' | 'src' | 'tarball' }>;

export function isSourceSpec(spec: KernelSpec): spec is SourceKernelSpec {
  return spec.kind === 'tree' || spec.kind === 'src' || spec.kind === 'tarball';
}

export function noBuildOptions(): KernelBuildOptions {
  return { patches: [], kconfig: [], makeArgs: [] };
}

/**
 * A freshly parsed spec with its build options attached; `text` becomes the full request ("src:6.1 --patch x.patch") so two
 * builds of one source differ in every table and map that is keyed by it.
 */
export function withBuildOptions(spec: SourceKernelSpec, build: KernelBuildOptions): SourceKernelSpec {
  const words = [
    spec.text,
    ...build.patches.map((p) => `--patch ${p}`),
    ...build.kconfig.map((k) => `--kconfig ${k}`),
    ...build.makeArgs.map((m) => `--make-arg ${m}`),
    ...(build.toolchainImage !== undefined ? [`--toolchain-image ${build.toolchainImage}`] : []),
  ];
  return { ...spec, text: words.join(' '), build };
}

/** The spec as a --coverage build of these objects (its text ends in --coverage, its label in +gcov). */
export function withCoverage(spec: SourceKernelSpec, objects: readonly string[]): SourceKernelSpec {
  return { ...spec, text: `${spec.text} --coverage`, build: { ...spec.build, coverage: [...objects] } };
}

const VERSION = /^\d+\.\d+$/;
const DEB_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export function parseKernelSpec(text: string): KernelSpec {
  const s = text.trim();
  if (s === '') throw new UsageError('--kernel: empty value (expected e.g. 6.1, deb:<package>, /path/to/bzImage or vmlinux, tree:<path>[@<ref>], src:6.1)');
  if (VERSION.test(s)) {
    return loadCatalog().get(s)?.kind === 'tarball' ? { kind: 'tarball', text: s, version: s, build: noBuildOptions() } : { kind: 'alias', text: s, version: s };
  }
  if (s.startsWith('deb:')) {
    const pkg = s.slice(4);
    if (!DEB_NAME.test(pkg)) throw new UsageError(`--kernel ${s}: '${pkg}' is not a Debian package name`);
    return { kind: 'deb', text: s, pkg };
  }
  if (s.startsWith('src:')) {
    const version = s.slice(4);
    if (!VERSION.test(version)) throw new UsageError(`--kernel ${s}: expected src:<major.minor>, e.g. src:6.1`);
    return { kind: 'src', text: s, version, build: noBuildOptions() };
  }
  if (s.startsWith('tree:')) {
    const rest = s.slice(5);
    const at = rest.lastIndexOf('@');
    const path = at > 0 ? rest.slice(0, at) : rest;
    const ref = at > 0 ? rest.slice(at + 1) : undefined;
    if (path === '' || ref === '') throw new UsageError(`--kernel ${s}: expected tree:<path>[@<ref>]`);
    const build = noBuildOptions();
    return ref === undefined ? { kind: 'tree', text: s, path, build } : { kind: 'tree', text: s, path, ref, build };
  }
  if (s.includes('/') || s.startsWith('.')) return { kind: 'image', text: s, path: s };
  throw new UsageError(
    `--kernel ${s}: not a kernel spec. Expected a version (6.1, 6.12), deb:<package>, a bzImage or PVH vmlinux path, tree:<path>[@<ref>] or src:<version>`,
  );
}
