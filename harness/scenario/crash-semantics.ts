import type { CrashStep, KillStep, ScenarioBody } from './schema.ts';

/** What the schema cannot check about a crash step: disks, its place, and each write's alignment. */
export function checkCrashStep(at: string, c: CrashStep, s: ScenarioBody, index: number): string[] {
  const errs: string[] = [];
  const log = s.disks.find((d) => d.name === c.log);
  if (log === undefined) errs.push(`${at}.log: '${c.log}' is not one of the declared disks (${s.disks.map((d) => d.name).join(', ')})`);
  else if (c.log === s.stack.disk) errs.push(`${at}.log: the log cannot go on the stack's own disk '${c.log}'`);
  if (index !== s.steps.length - 1) errs.push(`${at}: a crash step must be the last step (it leaves the disk at its last crash point)`);
  return [...errs, ...checkWorkload(at, c, s, index)];
}

/** A kill step: last, one window that is not empty, and the same workload rules as a crash step. */
export function checkKillStep(at: string, k: KillStep, s: ScenarioBody, index: number): string[] {
  const errs: string[] = [];
  if (index !== s.steps.length - 1) errs.push(`${at}: a kill step must be the last step (QEMU dies in it)`);
  if (k.maxDelay <= k.minDelay) errs.push(`${at}.maxDelay: ${k.maxDelay} ms is not above minDelay ${k.minDelay} ms`);
  return [...errs, ...checkWorkload(at, k, s, index)];
}

function checkWorkload(at: string, c: CrashStep | KillStep, s: ScenarioBody, index: number): string[] {
  const errs: string[] = [];
  s.steps.slice(0, index).forEach((step, i) => {
    if (typeof step === 'object' && 'corrupt' in step) errs.push(`${at}: steps[${i}] corrupts the disk first, so the content before the workload is not known block by block`);
  });
  const unit = s.stack.sectorSize;
  const diskSize = s.disks.find((d) => d.name === s.stack.disk)?.size;
  c.workload.forEach((op, j) => {
    if (op === 'flush') return;
    const w = op.write;
    const where = `${at}.workload[${j}].write`;
    const bs = w.bs === 'block' ? unit : w.bs;
    if (w.offset % unit !== 0) errs.push(`${where}.offset: ${w.offset} is not a multiple of the stack's sector size ${unit}`);
    if (w.length === 0 || w.length % unit !== 0) errs.push(`${where}.length: ${w.length} is not a positive multiple of ${unit}`);
    if (bs === 0 || bs % unit !== 0) errs.push(`${where}.bs: ${bs} is not a positive multiple of ${unit}`);
    else if (w.length % bs !== 0) errs.push(`${where}.length: ${w.length} is not a multiple of bs ${bs}`);
    if (diskSize !== undefined && w.offset + w.length > diskSize) errs.push(`${where}: ends at ${w.offset + w.length}, beyond the ${diskSize}-byte disk`);
  });
  if (!c.workload.some((op) => op !== 'flush')) errs.push(`${at}.workload: has no write`);
  return errs;
}
