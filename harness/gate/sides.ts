/**
 * Base and candidate as two kernels of one matrix. The matrix keys cells by --kernel text and names cell
 * directories by kernel label, so two sides that are the same kernel (base vs base, a control run) are kept
 * apart here: the same text gets the role appended, the same label gets the role appended once resolved.
 */
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import type { KernelRecord, RunResults } from '../results.ts';
import { isReady, type ReadyKernel } from '../run/kernels.ts';
import type { PreparedKernels } from '../run/matrix.ts';

export type Role = 'base' | 'candidate';
export const ROLES: readonly Role[] = ['base', 'candidate'];

export interface GateSpecs {
  base: KernelSpec;
  candidate: KernelSpec;
}

/** The two specs, with distinct texts. */
export function distinctSpecs(base: KernelSpec, candidate: KernelSpec): GateSpecs {
  if (base.text !== candidate.text) return { base, candidate };
  return { base: { ...base, text: `${base.text} [base]` }, candidate: { ...candidate, text: `${candidate.text} [candidate]` } };
}

export function labelOf(k: ReadyKernel | KernelRecord): string {
  return isReady(k) ? k.kernel.label : (k.label ?? k.spec);
}

/**
 * When both sides resolved to the same label (the same kernel twice, or two specs naming one package), each
 * becomes "<label>@<role>" in the prepared kernels and in summary.kernels, before any cell runs.
 */
export function distinctLabels(prepared: PreparedKernels, specs: GateSpecs, results: RunResults): void {
  const b = prepared.kernels.get(specs.base.text)!;
  const c = prepared.kernels.get(specs.candidate.text)!;
  if (labelOf(b) !== labelOf(c)) return;
  for (const role of ROLES) {
    const text = specs[role].text;
    const k = prepared.kernels.get(text)!;
    const label = `${labelOf(k)}@${role}`;
    if (isReady(k)) prepared.kernels.set(text, { ...k, kernel: { ...k.kernel, label } });
    else k.label = label;
    for (const rec of results.summary.kernels) if (rec.spec === text) rec.label = label;
  }
}
