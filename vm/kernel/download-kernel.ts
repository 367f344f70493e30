// A catalog alias that names a kernel.org release: prebuilt first, when the catalog names packages and no
// --patch/--kconfig/--make-arg asks for a build: Debian's own build from the snapshot archive (its index is
// signed by keys shipped here), then Ubuntu's mainline packages; else the kernel.org tarball, downloaded and
// checked, then built like src:. What cannot be downloaded becomes KernelUnavailableError with the how-to.
import { cacheDir } from '../cache.ts';
import { DownloadError, NotFoundError, VerificationError } from '../fetch/errors.ts';
import { resolveMirrors, type Mirrors } from '../fetch/mirrors.ts';
import { progressTo } from '../fetch/progress.ts';
import { KernelUnavailableError } from './build-errors.ts';
import type { CatalogSource } from './catalog.ts';
import { tarballUnavailableMessage } from './catalog.ts';
import { fetchDebianArchive, fetchDebianSnapshot } from './debian-snapshot.ts';
import { provideSourceKernel } from './from-source.ts';
import { fetchKernelOrgTarball } from './kernel-org.ts';
import type { KernelSpec } from './spec.ts';
import { tarballPresent } from './tarball.ts';
import type { ResolvedKernel } from './types.ts';
import { fetchUbuntuMainline } from './ubuntu-mainline.ts';

export interface DownloadKernelOptions {
  mirrors?: Mirrors;
  log?: (line: string) => void;
}

type TarballSpec = Extract<KernelSpec, { kind: 'tarball' }>;
type TarballSource = Extract<CatalogSource, { kind: 'tarball' }>;

function failedCheck(spec: TarballSpec, e: VerificationError): KernelUnavailableError {
  return new KernelUnavailableError(`--kernel ${spec.version}: ${e.message}`, { short: `its download failed verification: ${e.message}`, cause: e });
}

export async function provideDownloadedKernel(spec: TarballSpec, src: TarballSource, opts: DownloadKernelOptions = {}): Promise<ResolvedKernel> {
  const mirrors = opts.mirrors ?? resolveMirrors();
  const log = opts.log ?? (() => undefined);
  const cacheRoot = cacheDir();
  const progress = progressTo();
  const common = { mirrors, cacheRoot, progress, log };
  const why: string[] = [];
  const build = spec.build.patches.length + spec.build.kconfig.length + spec.build.makeArgs.length > 0 || spec.build.toolchainImage !== undefined;
  const prebuilt: { name: string; fetch: () => Promise<ResolvedKernel> }[] = build ? [] : [
    ...(src.debianArchive !== undefined ? [{ name: `Debian's archive (${src.debianArchive.suite})`, fetch: () => fetchDebianArchive(spec.text, src.debianArchive!, common) }] : []),
    ...(src.debianSnapshot !== undefined ? [{ name: 'the Debian snapshot archive', fetch: () => fetchDebianSnapshot(spec.text, src.debianSnapshot!, common) }] : []),
    ...(src.ubuntuMainline !== undefined ? [{ name: 'Ubuntu mainline', fetch: () => fetchUbuntuMainline(spec.text, src.ubuntuMainline!, common) }] : []),
  ];
  for (const [i, p] of prebuilt.entries()) {
    try {
      return await p.fetch();
    } catch (e) {
      if (e instanceof VerificationError) throw failedCheck(spec, e);
      if (!(e instanceof DownloadError)) throw e;
      why.push(e.message);
      const next = prebuilt[i + 1]?.name ?? 'the kernel.org source';
      log(`no prebuilt kernel from ${p.name} (${e instanceof NotFoundError ? 'not in the archive' : 'archive unreachable'}): ${e.message}; trying ${next}`);
    }
  }
  if (!(await tarballPresent(src, cacheRoot))) {
    try {
      const got = await fetchKernelOrgTarball(src, common);
      log(`${got.tarball}: verified (${got.proof})`);
    } catch (e) {
      if (e instanceof VerificationError) throw failedCheck(spec, e);
      if (!(e instanceof DownloadError)) throw e;
      why.push(e.message);
      throw new KernelUnavailableError(tarballUnavailableMessage(src, cacheRoot, why), { short: 'could not be downloaded', cause: e });
    }
  }
  return provideSourceKernel(spec, { log });
}
