import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import tmp from 'tmp';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir } from '../../vm/cache.ts';
import { buildGuestImage, type GuestImage } from '../../vm/image/initramfs.ts';
import { KernelBuildError } from '../../vm/kernel/build-errors.ts';
import { unbuiltKernelLabel } from '../../vm/kernel/from-source.ts';
import { KernelUnavailableError, provideKernel } from '../../vm/kernel/provider.ts';
import { isSourceSpec } from '../../vm/kernel/spec.ts';
import type { ResolvedKernel } from '../../vm/kernel/types.ts';
import { chooseAccel, type AccelChoice } from '../../vm/qemu/accel.ts';
import { Guest } from '../../vm/qemu/guest.ts';
import type { MatrixConfig } from '../config.ts';
import { UsageError } from '../errors.ts';
import { exitCodeFor } from '../exit-code.ts';
import { Reporters } from '../reporters/reporter.ts';
import { RunResults, type KernelRecord } from '../results.ts';
import type { Scenario } from '../scenario/load.ts';
import { runCell } from './cell.ts';
import { buildFailureReason, keepBuildLog } from './kernel-build.ts';

interface ReadyKernel {
  kernel: ResolvedKernel;
  image: GuestImage;
}

/** Boots the kernel with KVM and waits briefly for the agent: KVM is used only when this works. */
async function kvmProbe(k: ReadyKernel, dir: string): Promise<boolean> {
  const guest = Guest.start({
    kernel: k.kernel.bzImage, initrd: k.image.path, accel: 'kvm', memoryMb: 256, cpus: 1,
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
async function prepareKernels(cfg: MatrixConfig, results: RunResults, log: (s: string) => void): Promise<Map<string, ReadyKernel | KernelRecord>> {
  const tools = await buildGuestTools(cacheDir('guest-tools'));
  const out = new Map<string, ReadyKernel | KernelRecord>();
  for (const spec of cfg.kernels) {
    try {
      const kernel = await provideKernel(spec, {
        ...(cfg.modules !== undefined ? { modules: cfg.modules } : {}),
        log: (line) => log(`kernel ${spec.text}: ${line}`),
      });
      const image = await buildGuestImage(kernel, { agent: tools.agent, io: tools.io });
      log(`kernel ${spec.text}: ${kernel.source}; initramfs ${image.fromCache ? 'cached' : 'built'} (${image.hash})`);
      const buildLog = await keepBuildLog(results.dir, kernel.label, kernel.buildLog);
      if (kernel.missingOptions !== undefined && kernel.missingOptions.length > 0) {
        log(`kernel ${spec.text}: Kconfig options the final .config lacks: ${kernel.missingOptions.join(' ')}`);
      }
      results.summary.kernels.push({
        spec: spec.text, label: kernel.label, source: kernel.source, status: 'ok',
        ...(kernel.release !== undefined ? { release: kernel.release } : {}),
        ...(kernel.version !== undefined ? { version: kernel.version } : {}),
        ...(buildLog !== undefined ? { buildLog } : {}),
        ...(kernel.missingOptions !== undefined ? { missingOptions: kernel.missingOptions } : {}),
        image: { path: image.path, hash: image.hash, fromCache: image.fromCache, modules: image.modules },
      });
      out.set(spec.text, { kernel, image });
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof KernelBuildError) {
        const buildLog = await keepBuildLog(results.dir, isSourceSpec(spec) ? unbuiltKernelLabel(spec) : spec.text, e.logFile);
        const rec: KernelRecord = {
          spec: spec.text, label: isSourceSpec(spec) ? unbuiltKernelLabel(spec) : spec.text, status: 'build-failed', message: buildFailureReason(e, buildLog),
          ...(buildLog !== undefined ? { buildLog } : {}),
        };
        results.summary.kernels.push(rec);
        log(`kernel ${spec.text}: build failed: ${e.message}`);
        out.set(spec.text, rec);
        continue;
      }
      const status = e instanceof KernelUnavailableError ? 'unavailable' : 'error';
      const rec: KernelRecord = { spec: spec.text, label: spec.text, status, message: (e as Error).message };
      results.summary.kernels.push(rec);
      log(`kernel ${spec.text}: ${status}: ${(e as Error).message}`);
      out.set(spec.text, rec);
    }
  }
  await results.flush();
  return out;
}

function isReady(k: ReadyKernel | KernelRecord): k is ReadyKernel {
  return 'image' in k && 'kernel' in k;
}

/** Plans kernel x scenario cells, runs them bounded by --jobs, and reports each as it finishes. */
export async function runMatrix(cfg: MatrixConfig, scenarios: Scenario[], results: RunResults, reporters: Reporters, log: (s: string) => void): Promise<number> {
  const kernels = await prepareKernels(cfg, results, log);
  const first = [...kernels.values()].find(isReady);
  let accel: AccelChoice = { accel: 'tcg', reason: 'no kernel to probe with' };
  if (first !== undefined) {
    const scratch = tmp.dirSync({ prefix: 'ih-probe-', unsafeCleanup: true });
    try {
      accel = await chooseAccel({ ...(cfg.accel !== undefined ? { forced: cfg.accel } : {}), probe: () => kvmProbe(first, scratch.name) });
    } finally {
      scratch.removeCallback();
    }
  }
  results.summary.accelerator = accel;
  log(`accelerator: ${accel.accel} (${accel.reason})`);
  await reporters.emit('onBegin', { runDir: results.dir, cells: kernels.size * scenarios.length, kernels: cfg.kernels.map((k) => k.text) });

  const limit = pLimit(cfg.jobs);
  const tasks: Promise<void>[] = [];
  for (const spec of cfg.kernels) {
    const k = kernels.get(spec.text)!;
    for (const scenario of scenarios) {
      tasks.push(limit(async () => {
        if (!isReady(k)) {
          const verdict = k.status === 'unavailable' || k.status === 'build-failed' ? 'skip' : 'error';
          const rec = await results.addCell(k.label ?? k.spec, scenario.id, '', { verdict, reason: k.message ?? k.status, durationMs: 0 });
          await reporters.emit('onCellEnd', rec);
          return;
        }
        const dir = results.cellDir(k.kernel.label, scenario.id);
        await mkdir(dir, { recursive: true });
        await reporters.emit('onCellBegin', { id: `${k.kernel.label}/${scenario.id}` });
        const r = await runCell({
          id: `${k.kernel.label}/${scenario.id}`, dir, scenario, kernel: k.kernel, image: k.image, accel: accel.accel,
          bootTimeoutMs: cfg.bootTimeoutMs, memoryMb: cfg.memoryMb, cpus: cfg.cpus, keepDisks: cfg.keepDisks,
        });
        const rec = await results.addCell(k.kernel.label, scenario.id, dir, r);
        await reporters.emit('onCellEnd', rec);
      }));
    }
  }
  await Promise.all(tasks);
  return exitCodeFor(results.summary.cells.map((c) => c.verdict));
}
