/**
 * What a scenario needs from the kernel and the guest's tools (blktests' `requires()`), and whether a booted
 * guest has it. Pure: the runner gathers the facts in the guest, this decides. An unmet requirement makes the
 * cell `skip` with the reasons, never `fail`.
 */
import { isKeyedHash, kernelHashName } from '../model/integrity/tags.ts';
import { CRYPT_FLAG_VERSIONS } from './crypt-schema.ts';
import type { Scenario } from './load.ts';
import { OPEN_OPTIONS, type Requirements } from './schema.ts';


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
} as const;

/** dm-crypt raw tables: the oldest target the crypt ctr model describes (5.9's 1.22.0, with no_*_workqueue, as 5.10). */
export const CRYPT_TARGET_CTR_MODEL = '1.22.0';

/** Whether cryptsetup asks dm-integrity for fix_padding on a target of this version ("1.10.0"). */
export function cryptsetupFixesPadding(targetVersion: string | undefined): boolean {
  return targetVersion === undefined || compareVersions(parseVersion(targetVersion), parseVersion(INTEGRITY_TARGET.fixPadding)) >= 0;
}

/** The scenario's own `requires` plus what its stack and steps imply. */
export function effectiveRequirements(s: Pick<Scenario, 'requires' | 'stack' | 'steps'>): Requirements {
  const r = s.requires;
  const targets = new Set(r.targets);
  const crypto = new Set(r.crypto);
  const options = new Map(Object.entries(r.toolOptions).map(([k, v]) => [k, new Set(v)]));
  const targetVersions = { ...r.targetVersions };
  const option = (program: string, opt: string) => options.set(program, (options.get(program) ?? new Set()).add(opt));
  const atLeast = (target: string, min: string) => {
    if (compareVersions(parseVersion(min), parseVersion(targetVersions[target] ?? '0')) > 0) targetVersions[target] = min;
  };
  const st = s.stack;
  if (st.type === 'integrity') {
    targets.add('integrity');
    crypto.add(kernelHashName(st.hash));
    if (st.lower === 'linear') targets.add('linear');
    if (st.lower === 'delay') targets.add('delay');
    if (s.steps.some((x) => typeof x === 'object' && 'ioError' in x)) targets.add('error');
    const modes = new Set([st.mode, ...s.steps.flatMap((x) => (typeof x === 'object' && 'open' in x ? [x.open.mode] : []))]);
    // dm-integrity's own versions of what integritysetup asks it for (its ctr refuses the option before them)
    if (modes.has('bitmap')) atLeast('integrity', INTEGRITY_TARGET.bitmap);
    if (st.allowDiscards) atLeast('integrity', INTEGRITY_TARGET.allowDiscards);
    if (st.recalculate) atLeast('integrity', st.recalculate === 'reset' ? INTEGRITY_TARGET.resetRecalculate : INTEGRITY_TARGET.recalculate);
    if (st.metaDisk !== undefined) atLeast('integrity', INTEGRITY_TARGET.metaDevice);
    // the ctr model (model/integrity/ctr-kernel.ts) describes dm-integrity from 5.10's 1.6.0 on
    if (st.table !== undefined || s.steps.some((x) => typeof x === 'object' && 'tables' in x)) atLeast('integrity', INTEGRITY_TARGET.ctrModel);
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
  } else {
    // dm-crypt AEAD on dm-integrity, from dmsetup tables (crypt-aead) or cryptsetup (luks2)
    targets.add('integrity');
    targets.add('crypt');
    // the crypt-aead cell's dm-integrity table asks for fix_padding (crypt-stack.ts)
    if (st.type === 'crypt-aead') atLeast('integrity', INTEGRITY_TARGET.fixPadding);
    if (st.allowDiscards) atLeast('integrity', INTEGRITY_TARGET.allowDiscards);
    if (st.type === 'crypt-aead') {
      for (const flag of st.flags) {
        atLeast('crypt', CRYPT_FLAG_VERSIONS[flag]);
      }
      if (s.steps.some((x) => typeof x === 'object' && 'tables' in x)) atLeast('crypt', CRYPT_TARGET_CTR_MODEL);
    }
    if (st.type === 'luks2') {
      for (const o of ['--integrity', '--volume-key-file', '--sector-size', '--pbkdf-force-iterations']) option('cryptsetup', o);
      if (st.integrityNoWipe) option('cryptsetup', '--integrity-no-wipe');
    }
  }
  return {
    ...r,
    targets: [...targets],
    targetVersions,
    crypto: [...crypto],
    toolOptions: Object.fromEntries([...options].map(([k, v]) => [k, [...v]])),
  };
}

/** What the runner found in the guest. */
export interface GuestFacts {
  /** Upstream kernel version, e.g. [6, 1, 192]; undefined when it could not be told. */
  kernelVersion: number[] | undefined;
  kernelText: string;
  /** `dmsetup targets`: name -> version text ("1.10.0"). */
  targets: Map<string, string>;
  /** names (and driver names) in /proc/crypto after the scenario's algorithms were instantiated */
  crypto: Set<string>;
  /** program -> its --help text, undefined when the program is missing */
  help: Map<string, string | undefined>;
}

export function parseVersion(text: string): number[] {
  return text.replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10)).filter((n) => Number.isFinite(n));
}

/** <0, 0, >0 like a comparator; missing trailing parts count as 0 ("6.1" == "6.1.0"). */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `dmsetup targets` lines: "integrity        v1.10.0". */
export function parseDmTargets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^(\S+)\s+v(\d+(?:\.\d+)*)$/);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** /proc/crypto: every `name` and `driver` value. */
export function parseProcCrypto(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^(?:name|driver)\s*:\s*(\S+)\s*$/gm)) out.add(m[1]!);
  return out;
}

/**
 * The upstream version of the running kernel: Debian's `uname -r` says 6.1.0-56 for 6.1.192, so the
 * package version in /proc/version ("Debian 6.1.192-2") wins over the release.
 */
export function kernelVersionOf(procVersion: string): number[] | undefined {
  // the compiler's banner may say "Debian 12.2.0" too: the kernel's own comes after the build number "#1"
  const debian = procVersion.split(' #').slice(1).join(' #').match(/Debian (\d+\.\d+(?:\.\d+)?)/);
  if (debian) return parseVersion(debian[1]!);
  const release = procVersion.match(/Linux version (\d+\.\d+(?:\.\d+)?)/);
  return release ? parseVersion(release[1]!) : undefined;
}

/** Whether `help` lists `option` as an option (not as part of a longer one). */
export function helpListsOption(help: string, option: string): boolean {
  const escaped = option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s,\\[])${escaped}(?![a-z0-9-])`, 'm').test(help);
}

/** Every unmet requirement, as a reason a person can act on; empty when the cell can run. */
export function unmetRequirements(r: Requirements, f: GuestFacts): string[] {
  const out: string[] = [];
  if (r.kernel !== undefined) {
    if (f.kernelVersion === undefined) out.push(`needs kernel >= ${r.kernel}, but the kernel's version cannot be told from '${f.kernelText}'`);
    else if (compareVersions(f.kernelVersion, parseVersion(r.kernel)) < 0) out.push(`needs kernel >= ${r.kernel}, this is ${f.kernelVersion.join('.')}`);
  }
  const missing = r.targets.filter((t) => !f.targets.has(t));
  if (missing.length) out.push(`kernel lacks device-mapper target(s): ${missing.join(', ')}`);
  for (const [t, min] of Object.entries(r.targetVersions)) {
    const have = f.targets.get(t);
    if (have === undefined) {
      if (!missing.includes(t)) out.push(`kernel lacks device-mapper target ${t} (needs v${min})`);
    } else if (compareVersions(parseVersion(have), parseVersion(min)) < 0) out.push(`device-mapper target ${t} is v${have}, needs >= v${min}`);
  }
  const noCrypto = r.crypto.filter((c) => !f.crypto.has(c));
  if (noCrypto.length) out.push(`kernel crypto lacks ${noCrypto.join(', ')} (not in /proc/crypto)`);
  for (const [program, options] of Object.entries(r.toolOptions)) {
    const help = f.help.get(program);
    if (help === undefined) {
      out.push(`guest has no ${program}`);
      continue;
    }
    const lacking = options.filter((o) => !helpListsOption(help, o));
    if (lacking.length) out.push(`${program} has no option ${lacking.join(', ')}`);
  }
  return out;
}
