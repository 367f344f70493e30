/**
 * For `*.guest.test.ts`: a real Debian kernel and the harness's real initramfs, prepared once per file
 * through the same code the matrix uses. Nothing here fakes the VM layer.
 */
import { join } from 'node:path';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir, repoRoot } from '../../vm/cache.ts';
import { buildGuestImage, type GuestImage } from '../../vm/image/initramfs.ts';
import { provideKernel } from '../../vm/kernel/provider.ts';
import { parseKernelSpec } from '../../vm/kernel/spec.ts';
import type { ResolvedKernel } from '../../vm/kernel/types.ts';
import { preflight } from '../preflight.ts';
import { loadScenario, type Scenario } from '../scenario/load.ts';

export interface GuestKernel {
  kernel: ResolvedKernel;
  image: GuestImage;
}

export async function prepareGuestKernel(spec = process.env.IH_TEST_KERNEL ?? '6.1'): Promise<GuestKernel> {
  await preflight();
  const tools = await buildGuestTools(cacheDir());
  const kernel = await provideKernel(parseKernelSpec(spec));
  const image = await buildGuestImage(kernel, tools);
  return { kernel, image };
}

export function scenarioFile(id: string): Promise<Scenario> {
  const dir = join(repoRoot(), 'scenarios');
  return loadScenario(join(dir, `${id}.yaml`), dir);
}
