/**
 * What a scenario needs from the kernel and the guest's tools (blktests' `requires()`), and whether a booted
 * guest has it. Pure: the runner gathers the facts in the guest, this decides. An unmet requirement makes the
 * cell `skip` with the reasons, never `fail`.
 */
import { aeadNeeds } from '../stacks/crypt/crypt-requirements.ts';
import { integrityNeeds } from '../stacks/integrity/integrity-requirements.ts';
import type { Scenario } from './load.ts';
import type { Requirements } from './schema.ts';
import { compareVersions, parseVersion } from './versions.ts';

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
  if (st.type === 'integrity') integrityNeeds(st, s.steps, { targets, crypto, option, atLeast });
  else aeadNeeds(st, s.steps, { targets, crypto, option, atLeast });
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
