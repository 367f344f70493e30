/**
 * The top of a cell: picks the stack type's cell class and runs a scenario in a guest of its own. It sits above
 * cell.ts (the session, the failures and the verdict of one cell, which every stack's steps import) so that no
 * import runs back up from a stack type to the dispatcher.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentTimeoutError } from '../../vm/agent/client.ts';
import { Guest } from '../../vm/qemu/guest.ts';
import { coverageHooks } from '../coverage/guest.ts';
import type { CellResult } from './session/observations.ts';
import type { TransferPlan } from './session/disks.ts';
import { classifyError, StepHang, type StepsOutcome } from '../verdict/failures.ts';
import {
  createCellDisks, GuestSession, qemuDisk, hostSideOutcome, judgeCell, SECOND_CONSOLE, writeCellFiles, type CellSpec,
} from './session/cell.ts';
import { CryptCell } from '../stacks/crypt/crypt-cell.ts';
import { IntegrityCell } from '../stacks/integrity/integrity-cell.ts';
import { LuksCell } from '../stacks/crypt/luks-cell.ts';
import { GuestWorker, STOP_TIMEOUT_MS } from './worker/guest-worker.ts';

/** Builds the scenario's stack in a guest that is ready and runs its steps; throws what classifyError reads. */
export async function runStack(spec: CellSpec, session: GuestSession, hostDisks: Map<string, string>, plan: TransferPlan): Promise<void> {
  session.startObserving({ cell: spec.id, scenario: spec.scenario, ...(spec.phase !== undefined ? { phase: spec.phase } : {}) }, hostDisks);
  if (spec.hooks?.beforeStack !== undefined) {
    await session.begin(-2, 'hook');
    await session.must(spec.hooks.beforeStack);
  }
  const type = spec.scenario.stack.type;
  const cell = type === 'crypt-aead' ? new CryptCell(spec, session, hostDisks, plan)
    : type === 'luks2' ? new LuksCell(spec, session, hostDisks, plan) : new IntegrityCell(spec, session, hostDisks, plan);
  await cell.run();
  await session.end();
}

/**
 * One scenario on a booted worker, the same whether the guest runs one scenario or sixteen: the worker goes
 * running, the kernel's coverage counters are reset before the stack and read after the steps, and it is ready
 * again. `began` runs just before the stack (a shared guest marks the scenario's begin on the console). What
 * goes wrong is thrown for classifyError, the worker left running for the caller to retire.
 */
export async function runScenario(
  worker: GuestWorker<Guest>, spec: CellSpec, session: GuestSession, hostDisks: Map<string, string>, plan: TransferPlan,
  began?: () => Promise<void>,
): Promise<void> {
  worker.begin();
  const coverage = coverageHooks(spec.kernel, spec.dir);
  await coverage.before((argv, o) => worker.vm.exec(argv, o));
  await began?.();
  await runStack(spec, session, hostDisks, plan);
  await coverage.after((argv, o) => worker.vm.exec(argv, o));
  worker.end();
}

/** Boots a guest worker of its own, runs the scenario's stack and steps, retires it, and decides the verdict. */
export async function runCell(spec: CellSpec): Promise<CellResult> {
  const started = Date.now();
  const consoleLog = join(spec.dir, 'console.log');
  const stepLog = join(spec.dir, 'steps.jsonl');
  await mkdir(spec.dir, { recursive: true });
  await writeFile(stepLog, '');
  const { plan, disks } = await createCellDisks(spec);

  const qemu = {
    kernel: spec.kernel.bootImage, initrd: spec.image.path, accel: spec.accel, memoryMb: spec.memoryMb, cpus: spec.cpus,
    consoleLog, disks: disks.map((d) => qemuDisk(d, `ih-${d.role}`)),
    append: spec.hooks?.cmdline,
  };
  const worker = new GuestWorker(Guest.start(qemu), { startMs: spec.bootTimeoutMs, stopMs: STOP_TIMEOUT_MS });
  const session = new GuestSession(worker.vm, spec.scenario.stepTimeout * 1000, stepLog);
  session.bootFresh = async () => {
    const again = Guest.start({ ...qemu, consoleLog: join(spec.dir, SECOND_CONSOLE) });
    try {
      await again.waitReady(spec.bootTimeoutMs);
    } catch (e) {
      await again.kill();
      if (e instanceof AgentTimeoutError) throw new StepHang(`the second guest did not reach its agent within ${spec.bootTimeoutMs / 1000}s of boot`, { cause: e });
      throw e;
    }
    worker.replace(again);
    return again;
  };
  const result: CellResult = { verdict: 'pass', reason: '', durationMs: 0, steps: session.steps, disagreements: session.disagreements };
  let outcome: StepsOutcome;
  try {
    const booted = await worker.boot();
    result.kernelRelease = booted.kernelRelease;
    result.bootMs = booted.bootMs;
    await runScenario(worker, spec, session, new Map(disks.map((d) => [d.role, d.path])), plan);
    await worker.retire();
  } catch (e) {
    await session.end().catch(() => undefined);
    outcome = await hostSideOutcome(session.guest, classifyError(e));
    await worker.retire('kill');
  }
  const exit = await session.guest.exited;
  // A kill step's second boot logs to its own file: a crash there is this cell's too.
  const consoleText = await readFile(consoleLog, 'utf8').catch(() => '') + await readFile(join(spec.dir, SECOND_CONSOLE), 'utf8').catch(() => '');
  Object.assign(result, judgeCell(spec, session, outcome, consoleText, exit.stderr, exit));
  result.durationMs = Date.now() - started;
  await writeCellFiles(spec, result);
  return result;
}
