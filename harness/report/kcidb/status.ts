/**
 * Our verdicts as KCIDB statuses (schema v5: FAIL, ERROR, MISS, PASS, DONE, SKIP). A crash and a hang are
 * the kernel's fault, so FAIL; which one it was goes into the test's misc.verdict. An `error` is the
 * harness or host breaking mid-test, so ERROR (the tested code's status is unknown); `skip` is SKIP.
 */
import type { KernelRecord } from '../../results.ts';
import type { Verdict } from '../../verdict/types.ts';

export type KcidbStatus = 'FAIL' | 'ERROR' | 'MISS' | 'PASS' | 'DONE' | 'SKIP';

export const TEST_STATUS: Readonly<Record<Verdict, KcidbStatus>> = Object.freeze({
  pass: 'PASS', fail: 'FAIL', crash: 'FAIL', hang: 'FAIL', error: 'ERROR', skip: 'SKIP',
});

/**
 * A kernel as a build: `ok` PASS; `build-failed` FAIL (its log says why); `unavailable` MISS (the kernel
 * could not be obtained here, nothing about the code is known); `error` ERROR (the harness broke).
 */
export const BUILD_STATUS: Readonly<Record<KernelRecord['status'], KcidbStatus>> = Object.freeze({
  ok: 'PASS', 'build-failed': 'FAIL', unavailable: 'MISS', error: 'ERROR',
});
