import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { Accel } from './args.ts';

export interface AccelChoice {
  accel: Accel;
  /** Why: recorded in results so a slow run can be explained. */
  reason: string;
}

export interface AccelProbeInput {
  /** IH_ACCEL from the environment: force one. */
  forced?: string;
  devKvm?: string;
  cpuinfo?: string;
  /** Boots a real guest with KVM and resolves true only if its agent answered in time. */
  probe: () => Promise<boolean>;
}

/**
 * KVM only when it demonstrably works. Here /dev/kvm exists but the CPU has no vmx/svm and a KVM guest
 * hangs silently, so existence of the device proves nothing: check the flags, then run a bounded boot.
 */
export async function chooseAccel(input: AccelProbeInput): Promise<AccelChoice> {
  if (input.forced === 'tcg' || input.forced === 'kvm') return { accel: input.forced, reason: `forced by IH_ACCEL=${input.forced}` };
  const dev = input.devKvm ?? '/dev/kvm';
  try {
    await access(dev, constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: `${dev} missing or not accessible` };
  }
  const cpuinfo = input.cpuinfo ?? (await readFile('/proc/cpuinfo', 'utf8'));
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) return { accel: 'tcg', reason: `${dev} exists but the CPU has no vmx/svm flag` };
  return (await input.probe())
    ? { accel: 'kvm', reason: 'KVM probe guest reached its agent' }
    : { accel: 'tcg', reason: 'KVM probe guest did not reach its agent in time' };
}
