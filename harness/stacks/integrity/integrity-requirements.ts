/** What an integrity stack and its steps need from the kernel and integritysetup (scenario/requirements.ts collects it). */
import { isKeyedHash, kernelHashName } from '../../model/integrity/tags.ts';
import type { Needs } from '../../scenario/needs.ts';
import type { Step } from '../../scenario/schema.ts';
import { compareVersions, parseVersion } from '../../scenario/versions.ts';
import { OPEN_OPTIONS, type IntegrityStack } from './integrity-schema.ts';

/**
 * The dm-integrity target version each feature needs, as cryptsetup decides it before it asks the kernel
 * (lib/libdevmapper.c, _dm_set_integrity_compat: recalculate 1.2.0, bitmap 1.3.0, fix_padding 1.4.0, discards
 * 1.6.0, reset_recalculate 1.8.0); meta_device came with 1.1.0. A 4.19 kernel (target 1.2.0) has none of bitmap mode, fix_padding and
 * discards: those scenarios skip there, and cryptsetup formats LUKS2 integrity without fix_padding.
 */
export const INTEGRITY_TARGET = {
  metaDevice: '1.1.0', recalculate: '1.2.0', bitmap: '1.3.0', fixPadding: '1.4.0', allowDiscards: '1.6.0',
  /** reset_recalculate: cryptsetup asks for 1.8.0 (5.13's target) */
  resetRecalculate: '1.8.0',
  /** raw tables: the oldest target the ctr model describes (5.10's) */
  ctrModel: '1.6.0',
  /** the status line: 1.0.0 (4.12, 4.13) prints nothing, 1.1.0 the mismatch counter, 1.2.0 adds size and recalculation */
  statusCounter: '1.1.0',
  statusFull: '1.2.0',
} as const;

/**
 * The form of `dmsetup status` on a target of this version (unknown: today's): status-judge.ts's
 * IntegrityStatusFields, spelled out here so the loader's requirements import nothing from harness/run/.
 */
export function integrityStatusFields(targetVersion: string | undefined): 'none' | 'mismatches' | 'full' {
  if (targetVersion === undefined) return 'full';
  const v = parseVersion(targetVersion);
  if (compareVersions(v, parseVersion(INTEGRITY_TARGET.statusFull)) >= 0) return 'full';
  return compareVersions(v, parseVersion(INTEGRITY_TARGET.statusCounter)) >= 0 ? 'mismatches' : 'none';
}

/** Whether cryptsetup asks dm-integrity for fix_padding on a target of this version ("1.10.0"). */
export function cryptsetupFixesPadding(targetVersion: string | undefined): boolean {
  return targetVersion === undefined || compareVersions(parseVersion(targetVersion), parseVersion(INTEGRITY_TARGET.fixPadding)) >= 0;
}

/** What the integrity stack `st` and the scenario's `steps` add to its requirements. */
export function integrityNeeds(st: IntegrityStack, steps: readonly Step[], { targets, crypto, option, atLeast }: Needs): void {
  targets.add('integrity');
  crypto.add(kernelHashName(st.hash));
  if (st.lower === 'linear') targets.add('linear');
  if (st.lower === 'delay') targets.add('delay');
  if (steps.some((x) => typeof x === 'object' && 'ioError' in x)) targets.add('error');
  const modes = new Set([st.mode, ...steps.flatMap((x) => (typeof x === 'object' && 'open' in x ? [x.open.mode] : []))]);
  // dm-integrity's own versions of what integritysetup asks it for (its ctr refuses the option before them)
  if (modes.has('bitmap')) atLeast('integrity', INTEGRITY_TARGET.bitmap);
  if (st.allowDiscards) atLeast('integrity', INTEGRITY_TARGET.allowDiscards);
  if (st.recalculate) atLeast('integrity', st.recalculate === 'reset' ? INTEGRITY_TARGET.resetRecalculate : INTEGRITY_TARGET.recalculate);
  if (st.metaDisk !== undefined) atLeast('integrity', INTEGRITY_TARGET.metaDevice);
  // the ctr model (model/integrity/ctr-kernel.ts) describes dm-integrity from 5.10's 1.6.0 on
  if (st.table !== undefined || steps.some((x) => typeof x === 'object' && 'tables' in x)) atLeast('integrity', INTEGRITY_TARGET.ctrModel);
  if (modes.has('bitmap')) option('integritysetup', '--integrity-bitmap-mode');
  if (modes.has('direct')) option('integritysetup', '--integrity-no-journal');
  if (modes.has('recovery')) option('integritysetup', '--integrity-recovery-mode');
  if (st.allowDiscards) option('integritysetup', '--allow-discards');
  if (st.metaDisk !== undefined) option('integritysetup', '--data-device');
  if (isKeyedHash(st.hash)) option('integritysetup', '--integrity-key-file');
  if (st.tagSize !== undefined) option('integritysetup', '--tag-size');
  if (st.journalSize !== undefined) option('integritysetup', '--journal-size');
  if (st.noWipe) option('integritysetup', '--no-wipe');
  if (st.recalculate) option('integritysetup', st.recalculate === 'reset' ? '--integrity-recalculate-reset' : '--integrity-recalculate');
  if (st.journalIntegrity !== undefined) {
    option('integritysetup', '--journal-integrity');
    crypto.add(kernelHashName(st.journalIntegrity.alg));
  }
  if (st.journalCrypt !== undefined) {
    option('integritysetup', '--journal-crypt');
    crypto.add(st.journalCrypt.alg === 'ctr-aes' ? 'ctr(aes)' : 'cbc(aes)');
  }
  for (const [field, flag] of OPEN_OPTIONS) if (st[field] !== undefined) option('integritysetup', flag);
}
