/**
 * The blunt crash variant: run the workload on the open stack, SIGKILL QEMU from the host during one of
 * its writes (the kill point comes from the scenario's seed: harness/crash/kill-point.ts, which also says
 * why the power-cut model is the right one), boot a fresh guest on the same disk images, reopen the stack
 * (journal replay happens here), read every block the workload touched, judge each with the crash model,
 * close, and audit the raw disk where the mode promises consistent tags. The stack is left open.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClosedError, type ExecResult } from '../../../vm/agent/client.ts';
import { chooseKillPoint, progressAtKill } from '../kill-point.ts';
import { InfraError } from '../../errors.ts';
import { promiseText } from '../../model/crash/consistency.ts';
import type { KillStep } from '../../scenario/schema.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { crashModel, reopenAndJudge } from './crash-check.ts';
import { recordWorkloadResult, stageWorkload, workloadArgv, workloadOps, type StackContext } from './crash-record.ts';

export type KillContext = StackContext & {
  /** After the fresh boot: the cell finds its disks again (same devices) and rewrites its key files. */
  rebooted(): Promise<void>;
};

export interface KillOutcome {
  /** the host saw the operation's reply before it killed QEMU */
  returned: boolean;
  /** ms from sending the operation to the kill */
  killedAfterMs: number;
  result?: ExecResult;
}

export async function runKillStep(ctx: KillContext, k: KillStep): Promise<void> {
  const s = ctx.session;
  const ops = workloadOps(k, ctx.seed);
  const payloadAt = await stageWorkload(ctx, ops);
  const point = chooseKillPoint(k.workload, k.seed, { minMs: k.minDelay, maxMs: k.maxDelay });
  s.note(`kill seed ${k.seed}: QEMU is killed ${point.delayMs} ms into workload[${point.op}]`);
  // The model's "old" is durable: the steps before this one returned, but without a flush their blocks may
  // still sit in the guest's memory (direct mode: tags in dm-integrity's bufio cache) and die with QEMU.
  const flushed = await s.run(workloadArgv(ctx, 'flush', 0));
  if (flushed.exitCode !== 0) throw new KernelFailure(`flushing the stack before the workload failed: exit ${flushed.exitCode}: ${flushed.stdout.toString().trim()}`);
  for (let j = 0; j < point.op; j++) recordWorkloadResult(ctx, j, k.workload[j]!, await s.run(workloadArgv(ctx, k.workload[j]!, payloadAt[j]!)));
  const killed = await killDuring(s, workloadArgv(ctx, k.workload[point.op]!, payloadAt[point.op]!), point.delayMs);
  if (killed.result) recordWorkloadResult(ctx, point.op, k.workload[point.op]!, killed.result);
  const progress = progressAtKill(point.op, killed.returned);
  const state = killed.returned ? 'had returned' : 'was in flight';
  s.note(`QEMU killed ${killed.killedAfterMs} ms after workload[${point.op}] was sent; it ${state}`);
  await writeFile(join(ctx.dir, 'kill.json'), JSON.stringify({ seed: k.seed, ...point, ...killed, result: undefined, progress }, null, 2) + '\n');

  const bootStart = Date.now();
  await s.bootAgain();
  await ctx.rebooted();
  s.note(`fresh guest booted on the same disks in ${((Date.now() - bootStart) / 1000).toFixed(1)}s`);
  const model = crashModel(ctx, ops);
  const where = `the reopen after the kill (workload[${point.op}] ${state}, ops done ${progress.completed}/${ops.length})`;
  const r = await reopenAndJudge(ctx, model, progress, where, { closeAfter: true });
  const reopened = await ctx.stack.open();
  // Between the two opens only the kernel acted on these disks (the first open's recovery, its close): the
  // host changed nothing and the same tools opened the stack a moment ago, so a refusal now is the kernel's.
  if (!reopened.ok) throw new KernelFailure(`the stack opened after the kill but not a second time: ${reopened.why}`);
  s.note(`${ctx.stack.mode} mode promises: ${promiseText(ctx.stack.kind, ctx.stack.mode)}`);
  s.note(`${r.blocksRead} blocks read after the kill, ${r.findings} finding(s), ${r.excusedErrors} read(s) failed where the mode allows it`);
}

/**
 * Sends `argv` to the guest and SIGKILLs QEMU `delayMs` later, or as soon as the operation returns. A
 * QEMU that dies before the host kills it (a panic) is not a kill: its error goes up, so the cell reads
 * the console and calls it a crash.
 */
export async function killDuring(s: GuestSession, argv: string[], delayMs: number): Promise<KillOutcome> {
  const guest = s.guest;
  const started = Date.now();
  const box: { result?: ExecResult; failure?: unknown } = {};
  const op = s.run(argv).then((r) => { box.result = r; }, (e: unknown) => { box.failure = e; });
  await Promise.race([op, sleep(delayMs)]);
  if (box.failure !== undefined) throw box.failure;
  const pid = guest.pid;
  if (pid === undefined || guest.state === 'exited') throw new InfraError('QEMU was gone before the host could kill it');
  const killedAfterMs = Date.now() - started;
  process.kill(pid, 'SIGKILL');
  const exit = await guest.exited;
  await op;
  // the operation's promise settles once QEMU is gone: with its reply, or with the closed agent channel
  const failure = box.failure as unknown;
  if (failure !== undefined && !(failure instanceof AgentClosedError)) throw failure;
  if (exit.signal !== 'SIGKILL') throw new InfraError(`QEMU ended with ${exit.signal ?? `exit ${exit.exitCode}`}, not the host's SIGKILL`);
  const result = box.result;
  return { returned: result !== undefined, killedAfterMs, ...(result !== undefined ? { result } : {}) };
}
