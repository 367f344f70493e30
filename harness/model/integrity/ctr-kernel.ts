/**
 * What dm_integrity_ctr() accepts differs between kernel versions. Each difference here was read from the
 * source of 6.1.192 (Debian's linux-source-6.1) and upstream, and checked against the strings and
 * disassembly of Debian's dm-integrity.ko for 5.10.223, 6.1.192 and 6.12.118:
 *   - mode `I` (inline) and the "Inline flag mismatch" check: 6.11+;
 *   - `reset_recalculate` and `fix_hmac`: absent from 5.10.223 (its ctr calls them "Invalid argument");
 *   - the feature-argument count limit (`dm_arg` {0, N}): 16 in 5.10.223, 18 in 6.1 and 6.12;
 *   - MAX_TAG_SIZE: 424 in 5.10.223, 255 in 6.1.192 and 6.12.118;
 *   - the newest superblock version: 4 without fix_hmac (5.10), 5 until 6.11, 6 from 6.11 (inline);
 *   - `allow_discards_keyed`: in 6.12.118 (with a superblock flag this model does not describe), not in 6.1.
 */
export interface CtrKernel {
  modes: string;
  maxFeatureArgs: number;
  maxTagSize: number;
  maxSuperblockVersion: number;
  /** optional arguments that are flags (no value) and that this kernel knows */
  flags: ReadonlySet<string>;
  /** flags this kernel knows but the model does not describe: a table using one cannot be judged */
  unmodelledFlags: ReadonlySet<string>;
  inline: boolean;
  /** CONFIG_HZ: bitmap_flush_interval must stay below UINT_MAX * 1000 / HZ milliseconds */
  hz: number;
}

const BASE_FLAGS = ['recalculate', 'allow_discards', 'fix_padding', 'legacy_recalculate'];

/** `version` is [major, minor, patch?] as the guest reports it. */
export function ctrKernel(version: readonly number[]): CtrKernel {
  const [major = 0, minor = 0] = version;
  const atLeast = (a: number, b: number) => major > a || (major === a && minor >= b);
  const flags = new Set(BASE_FLAGS);
  if (atLeast(5, 13)) flags.add('reset_recalculate');
  if (atLeast(5, 12)) flags.add('fix_hmac');
  return {
    modes: atLeast(6, 11) ? 'JBDRI' : 'JBDR',
    maxFeatureArgs: atLeast(5, 11) ? 18 : 16,
    maxTagSize: atLeast(6, 0) ? 255 : 424,
    maxSuperblockVersion: atLeast(6, 11) ? 6 : flags.has('fix_hmac') ? 5 : 4,
    flags,
    unmodelledFlags: new Set(atLeast(6, 12) ? ['allow_discards_keyed'] : []),
    inline: atLeast(6, 11),
    hz: 250,
  };
}
