/**
 * The crash and kill steps as a stack's cell runs them (integrity-cell.ts, aead-cell.ts): the context the
 * crash steps need from the cell (its disks by role, the device model's content before the workload, the
 * stack as the crash steps drive it), and the fresh guest after a kill. What differs per stack type comes in
 * as `CrashCellParts`.
 */
import type { IntegrityDeviceModel } from '../../model/integrity/device.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import type { CrashStep, KillStep } from '../../scenario/schema.ts';
import type { CellSpec, GuestSession } from '../../run/session/cell.ts';
import type { TransferPlan } from '../../run/session/disks.ts';
import type { CellDisks } from '../../run/session/guest-disks.ts';
import { runKillStep } from './crash-kill.ts';
import type { CrashContext, HostGuestDisk } from './crash-record.ts';
import { dropJournalReplay, type CrashStack } from './crash-stack.ts';
import { runCrashStep } from './crash-step.ts';

export interface CrashCellParts {
  spec: CellSpec;
  session: GuestSession;
  plan: TransferPlan;
  disks: CellDisks;
  /** the scenario's data disk (role) */
  dataDisk: string;
  model(): IntegrityDeviceModel;
  geom(): IntegrityGeometry;
  /** the stack as the crash steps drive it, over the data disk */
  stack(data: HostGuestDisk): CrashStack;
  /** what a fresh guest needs after a kill step besides its disks (the key files the stack's commands read) */
  afterReboot(): Promise<void>;
  /**
   * Blocks the device model cannot read before the workload count as unreadable rather than zeros (AEAD
   * sectors never written fail their tag).
   */
  unreadableBefore?: boolean;
}

export class CellCrashSteps {
  /**
   * A crash or kill step leaves the data disk at its last checked crash point, which the device model does not
   * describe: the step judges the stack itself, so the teardown's checks against the model are not made after it.
   */
  crashed = false;

  constructor(private readonly c: CrashCellParts) {}

  async crash(i: number, step: CrashStep): Promise<void> {
    await runCrashStep(this.context(i, step.log, 'crash'), step); // leaves the stack open, as it found it
    this.crashed = true;
  }

  /** QEMU dies in this step; the checks run in a fresh guest, with the same disks under the same names. */
  async kill(i: number, step: KillStep): Promise<void> {
    const { log: _log, ...ctx } = this.context(i, this.c.dataDisk, 'kill');
    await runKillStep({
      ...ctx,
      rebooted: async () => {
        await this.c.disks.remap(this.c.session);
        await this.c.afterReboot();
      },
    }, step);
    this.crashed = true;
  }

  private context(i: number, log: string, kind: 'crash' | 'kill'): CrashContext {
    const { spec, plan } = this.c;
    const model = this.c.model();
    const old = Buffer.alloc(model.blocks * model.blockSize);
    const oldUnreadable = new Set<number>();
    for (let b = 0; b < model.blocks; b++) {
      const e = model.expectBlockRead(b);
      if (e.data) e.data.copy(old, b * model.blockSize);
      else oldUnreadable.add(b);
    }
    const disk = (role: string): HostGuestDisk => ({ guest: this.c.disks.dev(role), host: this.c.disks.host(role) });
    const data = disk(this.c.dataDisk);
    return {
      session: this.c.session, stack: this.c.stack(data), at: `steps[${i}].${kind}`, stepIndex: i, seed: `${spec.scenario.id}#${i}`,
      data: { ...data, size: spec.scenario.disks.find((d) => d.name === this.c.dataDisk)!.size },
      log: disk(log), payload: { ...disk('payload'), offset: plan.offsets.get(i)! }, out: disk('out'),
      blockSize: model.blockSize, old, ...(this.c.unreadableBefore ? { oldUnreadable } : {}), dir: spec.dir,
      ...(spec.hooks?.brokenReplay ? { broken: dropJournalReplay(this.c.geom()) } : {}),
    };
  }
}
