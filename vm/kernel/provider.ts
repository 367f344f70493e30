import { UsageError } from '../../harness/errors.ts';
import { KernelUnavailableError } from './build-errors.ts';
import { loadCatalog } from './catalog.ts';
import { provideDownloadedKernel } from './download-kernel.ts';
import type { Mirrors } from '../fetch/mirrors.ts';
import { fetchDebianKernel, resolveDebianAlias } from './debian.ts';
import { provideSourceKernel } from './from-source.ts';
import { resolveImageKernel } from './image.ts';
import type { KernelSpec } from './spec.ts';
import type { ResolvedKernel } from './types.ts';

export interface ProvideOptions {
  modules?: string;
  /** Progress of slow steps (kernel builds, downloads). */
  log?: (line: string) => void;
  /** Where kernel.org, Ubuntu mainline and the Debian snapshot archive are reached (default: IH_MIRROR_* or the canonical hosts). */
  mirrors?: Mirrors;
}

export { KernelUnavailableError } from './build-errors.ts';

/**
 * Turns a parsed --kernel spec into a bootable kernel on disk, downloading, unpacking or building as needed.
 * A kernel that fails to build throws KernelBuildError (its cells skip); a bad spec throws UsageError.
 */
export async function provideKernel(spec: KernelSpec, opts: ProvideOptions = {}): Promise<ResolvedKernel> {
  switch (spec.kind) {
    case 'alias': {
      const src = loadCatalog().get(spec.version);
      const pkg = await resolveDebianAlias(spec.version, src?.kind === 'debian' ? src.pattern : undefined);
      if (pkg === undefined) {
        throw new KernelUnavailableError(
          `--kernel ${spec.text}: no Debian package linux-image-${spec.version}.*-amd64-unsigned is known to apt. ` +
            `Provide it as --kernel /path/to/bzImage [--modules DIR] or --kernel tree:<path>`,
        );
      }
      return fetchDebianKernel(pkg, spec.text);
    }
    case 'deb':
      return fetchDebianKernel(spec.pkg, spec.text);
    case 'image':
      return resolveImageKernel(spec.path, spec.text, opts.modules);
    case 'tarball': {
      const src = loadCatalog().get(spec.version);
      if (src?.kind !== 'tarball') throw new KernelUnavailableError(`--kernel ${spec.version}: not a kernel.org tarball in vm/kernels.yaml`);
      return provideDownloadedKernel(spec, src, { ...(opts.mirrors !== undefined ? { mirrors: opts.mirrors } : {}), ...(opts.log !== undefined ? { log: opts.log } : {}) });
    }
    case 'tree':
    case 'src':
      return provideSourceKernel(spec, opts.log !== undefined ? { log: opts.log } : {});
  }
}
