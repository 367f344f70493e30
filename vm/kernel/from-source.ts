// --kernel src:<version> and tree:<path>[@<ref>]: a spec and its build options -> a built, bootable kernel.
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { cacheDir } from '../cache.ts';
import { buildKernel, type BuiltKernel, type KernelSource } from './build.ts';
import { KernelUnavailableError } from './build-errors.ts';
import { loadCatalog } from './catalog.ts';
import type { KernelBuildOptions, SourceKernelSpec } from './spec.ts';
import type { ResolvedKernel } from './types.ts';

export interface SourceBuildOptions {
  /** Progress lines (unpacking, patching, building, warnings), not make's output. */
  log?: (line: string) => void;
  jobs?: number;
}

export function sourceFor(spec: SourceKernelSpec): KernelSource {
  if (spec.kind === 'src') return { kind: 'debian-src', version: spec.version };
  if (spec.kind === 'tarball') {
    const entry = loadCatalog().get(spec.version);
    if (entry?.kind !== 'tarball') throw new KernelUnavailableError(`--kernel ${spec.version}: not a kernel.org tarball in vm/kernels.yaml`);
    return { kind: 'tarball', alias: entry.alias, url: entry.url, checksums: entry.checksums };
  }
  const path = resolve(spec.path);
  return spec.ref === undefined ? { kind: 'tree', path } : { kind: 'tree', path, ref: spec.ref };
}

function labelPart(text: string): string {
  return text.replace(/[^A-Za-z0-9.+-]+/g, '-').replace(/^-+|-+$/g, '');
}

/**
 * Cell label of a built kernel: release, revision, then what was added, so "src:6.1" and "src:6.1 --patch x"
 * get different cell directories: 6.1.158, 6.1.158+x, 6.1.0-g1a2b3c4d5e6+kasan.
 */
export function builtKernelLabel(release: string, revision: string | undefined, build: KernelBuildOptions): string {
  // setlocalversion ends the release of a git tree with '+' (commits after the tag): the revision says more.
  const base = revision === undefined || release.includes(revision) ? release : `${release.replace(/\+$/, '')}-${revision}`;
  return [base, ...addedParts(build)].join('+');
}

/** Label of a kernel that was not built (its build failed): the spec without options, then what was added. */
export function unbuiltKernelLabel(spec: SourceKernelSpec): string {
  const base = spec.kind === 'src' ? `src:${spec.version}` : spec.kind === 'tarball' ? spec.version : `tree:${spec.path}${spec.ref !== undefined ? `@${spec.ref}` : ''}`;
  return [base, ...addedParts(spec.build)].join('+');
}

function addedParts(build: KernelBuildOptions): string[] {
  return [
    ...build.patches.map((p) => basename(p).replace(/\.(patch|diff)$/, '')),
    ...build.kconfig.map((k) => basename(k).replace(/\.(config|fragment|cfg)$/, '')),
    ...build.makeArgs,
    ...(build.toolchainImage !== undefined ? [`in-${build.toolchainImage}`] : []),
    ...(build.coverage !== undefined ? ['gcov'] : []),
  ].map(labelPart);
}

export function resolvedFromBuilt(spec: SourceKernelSpec, built: BuiltKernel): ResolvedKernel {
  return {
    spec: spec.text,
    label: builtKernelLabel(built.release, built.revision, spec.build),
    bootImage: built.bootImage,
    release: built.release,
    source: `built from ${built.sourceDescription}${built.fromCache ? ' (cached build)' : ''}`,
    version: built.cacheKey,
    buildLog: built.buildLog,
    configPath: built.configPath,
    missingOptions: built.missingOptions,
    ...(built.coverage !== undefined ? { coverage: built.coverage } : {}),
  };
}

/** Builds (or takes from the cache) the kernel a src:/tree: spec names. Build failures throw KernelBuildError. */
export async function provideSourceKernel(spec: SourceKernelSpec, opts: SourceBuildOptions = {}): Promise<ResolvedKernel> {
  const built = await buildKernel({
    source: sourceFor(spec),
    patches: spec.build.patches.map((p) => resolve(p)),
    kconfig: spec.build.kconfig.map((k) => resolve(k)),
    makeArgs: spec.build.makeArgs,
    ...(spec.build.toolchainImage !== undefined ? { toolchainImage: spec.build.toolchainImage } : {}),
    ...(spec.build.coverage !== undefined ? { coverage: spec.build.coverage } : {}),
    cacheDir: cacheDir(),
    jobs: opts.jobs ?? availableParallelism(),
    ...(opts.log !== undefined ? { onStatus: opts.log } : {}),
  });
  return resolvedFromBuilt(spec, built);
}

