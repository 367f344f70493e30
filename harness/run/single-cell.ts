/**
 * One scenario file on one kernel, outside a matrix run: for guest tests and fixture recipes. Same
 * kernel resolution, guest image and cell runner as `npm run matrix`, always TCG, one guest.
 */
import { mkdir } from 'node:fs/promises';
import { buildGuestTools } from '../../vm/agent/build.ts';
import { cacheDir } from '../../vm/cache.ts';
import { buildGuestImage } from '../../vm/image/initramfs.ts';
import { provideKernel } from '../../vm/kernel/provider.ts';
import { parseKernelSpec } from '../../vm/kernel/spec.ts';
import { loadScenario, type Scenario } from '../scenario/load.ts';
import { runCell } from './run-cell.ts';
import type { CellResult } from './session/observations.ts';

export interface SingleCellRun {
  scenario: Scenario;
  result: CellResult;
  /** the cell directory: console.log, steps.jsonl, result.json, disks/ when kept */
  dir: string;
}

export async function runScenarioFile(p: { file: string; scenariosDir: string; kernel: string; dir: string; keepDisks?: boolean }): Promise<SingleCellRun> {
  const scenario = await loadScenario(p.file, p.scenariosDir);
  const kernel = await provideKernel(parseKernelSpec(p.kernel));
  const tools = await buildGuestTools(cacheDir());
  const image = await buildGuestImage(kernel, { agent: tools.agent, io: tools.io });
  await mkdir(p.dir, { recursive: true });
  const result = await runCell({
    id: `${kernel.label}/${scenario.id}`, dir: p.dir, scenario, kernel, image, accel: 'tcg',
    bootTimeoutMs: 120_000, memoryMb: 768, cpus: scenario.cpus ?? 1, keepDisks: p.keepDisks ?? false,
  });
  return { scenario, result, dir: p.dir };
}
