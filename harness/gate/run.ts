/**
 * One gate run in one run directory: the matrix's machinery (prepareMatrix, runMatrix) on [base, candidate]
 * x the selected scenarios, then the format-compatibility pass on the same prepared kernels, then the
 * comparison (verdict/gate.ts, recorded in summary.gate), which decides the exit code through finishRun.
 */
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { finishRun } from '../finish.ts';
import { planMatrix, withCompat, type Plan } from '../plan.ts';
import type { Reporters } from '../reporters/reporter.ts';
import { recordGate, type RunResults } from '../results.ts';
import { prepareMatrix as realPrepare, runMatrix as realRunMatrix } from '../run/matrix.ts';
import { discoverScenarios } from '../scenario/discover.ts';
import type { Scenario } from '../scenario/load.ts';
import { judgeGate } from '../verdict/gate.ts';
import { runCompat, type CompatRun, type RunCellFn } from './compat.ts';
import type { GateConfig } from './config.ts';
import { distinctLabels, labelOf } from './sides.ts';

/** Seams for unit tests: the VM layer (kernels, cells) replaced, everything else real. */
export interface GateDeps {
  prepareMatrix: typeof realPrepare;
  runMatrix: typeof realRunMatrix;
  runCell?: RunCellFn;
  openGuest?: CompatRun['openGuest'];
}

export interface GatePlan {
  plan: Plan<KernelSpec, Scenario>;
  compat: Scenario[];
}

/** What runs, decided (and every scenario file validated) before any kernel is resolved. */
export async function planGate(cfg: GateConfig): Promise<GatePlan> {
  const { scenarios, slowNotRun } = await discoverScenarios(cfg.matrix.scenariosDir, cfg.matrix.scenarioGlobs, { slow: cfg.matrix.slow });
  const matrix = planMatrix([cfg.base, cfg.candidate], scenarios, { repeat: cfg.matrix.repeat, retries: cfg.matrix.retries, slowNotRun });
  const compat = cfg.compat ? (await discoverScenarios(cfg.compatDir, cfg.compatGlobs.length > 0 ? cfg.compatGlobs : ['compat/*'])).scenarios : [];
  return { plan: withCompat(matrix, { base: cfg.base, candidate: cfg.candidate }, compat), compat };
}

export async function runGate(
  cfg: GateConfig, gp: GatePlan, results: RunResults, reporters: Reporters, log: (s: string) => void, stop?: AbortSignal,
  deps: GateDeps = { prepareMatrix: realPrepare, runMatrix: realRunMatrix },
): Promise<void> {
  const specs = { base: cfg.base, candidate: cfg.candidate };
  const prepared = await deps.prepareMatrix(cfg.matrix, gp.plan, results, log);
  distinctLabels(prepared, specs, results);
  await deps.runMatrix(cfg.matrix, gp.plan, results, reporters, log, stop, prepared);
  if ((gp.plan.compat ?? []).length > 0 && !stop?.aborted) {
    log(`compatibility pass: ${gp.compat.map((s) => s.id).join(', ')}, each written by one kernel and read by the other`);
    await runCompat({
      cfg: cfg.matrix, cells: gp.plan.compat!, accel: prepared.accel.accel, results, reporters, log,
      sides: {
        base: { spec: cfg.base.text, kernel: prepared.kernels.get(cfg.base.text)! },
        candidate: { spec: cfg.candidate.text, kernel: prepared.kernels.get(cfg.candidate.text)! },
      },
      ...(stop !== undefined ? { stop } : {}),
      ...(deps.runCell !== undefined ? { runCell: deps.runCell } : {}),
      ...(deps.openGuest !== undefined ? { openGuest: deps.openGuest } : {}),
    });
  }
  const side = (spec: KernelSpec) => ({ spec: spec.text, label: labelOf(prepared.kernels.get(spec.text)!) });
  recordGate(results.summary, judgeGate(results.summary, { base: side(cfg.base), candidate: side(cfg.candidate) }, gp.compat.map((s) => s.id)));
}

/** runGate, then the exit code recorded in summary.json (finishRun reads summary.gate); the CLI adds signal handling. */
export async function gateAndFinish(
  cfg: GateConfig, gp: GatePlan, results: RunResults, reporters: Reporters, log: (s: string) => void, stop?: AbortSignal, deps?: GateDeps,
): Promise<number> {
  await runGate(cfg, gp, results, reporters, log, stop, deps);
  return finishRun(results, stop?.aborted ? 'interrupted' : 'complete');
}
