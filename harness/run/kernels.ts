import { join } from 'node:path';
import tmp from 'tmp';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir } from '../../vm/cache.ts';
import { buildGuestImage, type GuestImage } from '../../vm/image/initramfs.ts';
import { KernelBuildError } from '../../vm/kernel/build-errors.ts';
import { unbuiltKernelLabel } from '../../vm/kernel/from-source.ts';
import { KernelUnavailableError, provideKernel } from '../../vm/kernel/provider.ts';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import type { ResolvedKernel } from '../../vm/kernel/types.ts';
import { chooseAccel, type AccelChoice } from '../../vm/qemu/accel.ts';
import { Guest } from '../../vm/qemu/guest.ts';
import type { MatrixConfig } from '../config.ts';
import { UsageError } from '../errors.ts';
import type { KernelRecord, RunResults } from '../results.ts';
import { buildFailureReason, keepBuildLog, keepConfig, keepPatches } from './kernel-build.ts';

/** The --patch files of a kernel built from source, kept in the run (relative paths), as summary fields. */
async function keptPatches(runDir: string, label: string, spec: KernelSpec): Promise<{ patches?: string[] }> {
  if (!isSourceSpec(spec) || spec.build.patches.length === 0) return {};
  return { patches: await keepPatches(runDir, label, spec.build.patches) };
}

export interface ReadyKernel {
  kernel: ResolvedKernel;
  image: GuestImage;
}

/** Boots the kernel with KVM and waits briefly for the agent: KVM is used only when this works. */
async function kvmProbe(k: ReadyKernel, dir: string): Promise<boolean> {
  const guest = Guest.start({
    kernel: k.kernel.bootImage, initrd: k.image.path, accel: 'kvm', memoryMb: 256, cpus: 1,
    consoleLog: join(dir, 'kvm-probe-console.log'), disks: [],
  });
  try {
    await guest.waitReady(20_000);
    return true;
  } catch {
    return false;
  } finally {
    await guest.kill(1000);
  }
}

/** Resolves kernels (an unavailable one is recorded, its cells skipped) and builds their guest images. */
export async function prepareKernels(specs: KernelSpec[], cfg: MatrixConfig, results: RunResults, log: (s: string) => void): Promise<Map<string, ReadyKernel | KernelRecord>> {
  // Built only once a kernel is available, so a run whose kernels are all unavailable ends quickly.
  let tools: Awaited<ReturnType<typeof buildGuestTools>> | undefined;
  const out = new Map<string, ReadyKernel | KernelRecord>();
  for (const spec of specs) {
    try {
      const kernel = await provideKernel(spec, {
        ...(cfg.modules !== undefined ? { modules: cfg.modules } : {}),
        mirrors: cfg.mirrors,
        log: (line) => log(`kernel ${spec.text}: ${line}`),
      });
      tools ??= await buildGuestTools(cacheDir());
      const image = await buildGuestImage(kernel, { agent: tools.agent, io: tools.io });
      log(`kernel ${spec.text}: ${kernel.source}; initramfs ${image.fromCache ? 'cached' : 'built'} (${image.hash})`);
      const buildLog = await keepBuildLog(results.dir, kernel.label, kernel.buildLog);
      const config = await keepConfig(results.dir, kernel.label, kernel.configPath);
      const patches = await keptPatches(results.dir, kernel.label, spec);
      if (kernel.missingOptions !== undefined && kernel.missingOptions.length > 0) {
        log(`kernel ${spec.text}: Kconfig options the final .config lacks: ${kernel.missingOptions.join(' ')}`);
      }
      results.summary.kernels.push({
        spec: spec.text, label: kernel.label, source: kernel.source, status: 'ok',
        ...(kernel.release !== undefined ? { release: kernel.release } : {}),
        ...(kernel.version !== undefined ? { version: kernel.version } : {}),
        ...(buildLog !== undefined ? { buildLog } : {}),
        ...(config !== undefined ? { config } : {}),
        ...patches,
        ...(kernel.missingOptions !== undefined ? { missingOptions: kernel.missingOptions } : {}),
        bootImage: kernel.bootImage,
        ...(kernel.coverage !== undefined ? { coverage: kernel.coverage } : {}),
        image: { path: image.path, hash: image.hash, fromCache: image.fromCache, modules: image.modules },
      });
      out.set(spec.text, { kernel, image });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof KernelBuildError) {
        const label = isSourceSpec(spec) ? unbuiltKernelLabel(spec) : spec.text;
        const buildLog = await keepBuildLog(results.dir, label, e.logFile);
        const rec: KernelRecord = {
          spec: spec.text, label, status: 'build-failed', message: buildFailureReason(e, buildLog),
          ...(buildLog !== undefined ? { buildLog } : {}),
          ...(await keptPatches(results.dir, label, spec)),
        };
        results.summary.kernels.push(rec);
        log(`kernel ${spec.text}: build failed: ${e.message}`);
        out.set(spec.text, rec);
        continue;
      }
      const status = e instanceof KernelUnavailableError ? 'unavailable' : 'error';
      // The full how-to is said here and kept in summary.json once; each skipped cell carries only `reason`.
      const rec: KernelRecord = {
        spec: spec.text, label: spec.text, status, message: (e as Error).message,
        ...(e instanceof KernelUnavailableError ? { reason: `kernel ${spec.text} ${e.short} (how-to: summary.json kernels[].message)` } : {}),
      };
      results.summary.kernels.push(rec);
      log(`kernel ${spec.text}: ${status}: ${(e as Error).message}`);
      out.set(spec.text, rec);
    }
  }
  await results.flush();
  return out;
}

export function isReady(k: ReadyKernel | KernelRecord): k is ReadyKernel {
  return 'image' in k && 'kernel' in k;
}

export async function chooseAccelFor(cfg: MatrixConfig, kernels: Map<string, ReadyKernel | KernelRecord>): Promise<AccelChoice> {
  const first = [...kernels.values()].find(isReady);
  if (first === undefined) return { accel: 'tcg', reason: 'no kernel to probe with' };
  const scratch = tmp.dirSync({ prefix: 'ih-probe-', unsafeCleanup: true });
  try {
    return await chooseAccel({ ...(cfg.accel !== undefined ? { forced: cfg.accel } : {}), probe: () => kvmProbe(first, scratch.name) });
  } finally {
    scratch.removeCallback();
  }
}
