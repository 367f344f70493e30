/**
 * What the crash steps (crash-record.ts, crash-check.ts, crash-kill.ts) need from a stack, whoever builds
 * it: open it on a given lower device (the data disk, or dm-log-writes over it), close it, and name the
 * raw disk to audit after close with how the model reads it. dm-integrity alone (integritysetup) and
 * dm-crypt AEAD over dm-integrity (dmsetup tables or cryptsetup LUKS2) both fit; the cells build these.
 */
import type { BrokenReplay } from '../replay.ts';
import type { CrashMode, CrashStackKind } from '../../model/crash/consistency.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import type { IntegrityAuditParams } from '../../model/integrity/audit.ts';
import type { IntegrityStack } from '../../stacks/integrity/integrity-schema.ts';
import { InfraError } from '../../errors.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { integrityCloseArgv, integrityOpenArgv } from '../../stacks/integrity/integrity-stack.ts';

/** What the raw disk after close is audited as: the image file and how the model reads it. */
export interface RawAudit {
  image: string;
  params: Omit<IntegrityAuditParams, 'maxDisagreements'>;
}

export interface CrashStack {
  kind: CrashStackKind;
  mode: CrashMode;
  /** the device the workload writes and the checks read */
  top: string;
  /** Opens the stack on `lower` (the data disk when omitted); a refusal is returned, not thrown. */
  open(lower?: string): Promise<{ ok: true } | { ok: false; why: string }>;
  close(): Promise<void>;
  /** The raw disk after close, to be audited alone (judgeRawAfterClose, run/session/audit-judge.ts). */
  rawAudit(): RawAudit;
}

/**
 * The deliberately wrong replay a test asks for (CellHooks.brokenReplay): every write into dm-integrity's
 * journal dropped, so commits never reach the disk and the checker must notice.
 */
export function dropJournalReplay(geom: IntegrityGeometry): BrokenReplay {
  const j = geom.areas().find((a) => a.kind === 'journal' && a.device === 'data');
  if (j === undefined) throw new InfraError('no journal area on the data disk to drop');
  return { kind: 'drop-range', start: j.start, length: j.length };
}

/** dm-integrity alone, opened and closed with integritysetup. */
export function integrityCrashStack(s: GuestSession, stack: IntegrityStack, name: string, data: { guest: string; host: string }): CrashStack {
  return {
    kind: 'integrity',
    mode: stack.mode,
    top: `/dev/mapper/${name}`,
    async open(lower = data.guest) {
      const r = await s.run(integrityOpenArgv(stack, { data: lower }, name));
      if (r.exitCode !== 0) return { ok: false, why: `exit ${r.exitCode}: ${r.stderr.toString().trim().slice(-200)}` };
      await s.must(['dmsetup', 'mknodes', name]);
      return { ok: true };
    },
    async close() {
      await s.must(integrityCloseArgv(name));
    },
    rawAudit: () => ({ image: data.host, params: { hash: stack.hash, ...(stack.key !== undefined ? { key: Buffer.from(stack.key, 'hex') } : {}), wiped: true } }),
  };
}
