/**
 * The argument scanning of dm_integrity_ctr(): how it reads the four positional arguments and each optional
 * one, with the kernel's sscanf() patterns ("journal_sectors:%u%c" == 1: digits and nothing after them).
 * Pure string work; what the values mean for the device is ctr.ts's.
 */
import { ModelInputError } from '../errors.ts';
import type { CtrKernel } from './ctr-kernel.ts';

/** A refusal: the ti->error the kernel logs and the errno dmsetup sees (undefined where kernels differ). */
export interface CtrRefusal {
  ok: false;
  error: string;
  errno: string | undefined;
  /** which argument the kernel refused at, for people */
  at: string;
}

export interface AlgSpec {
  alg: string;
  /** undefined: the table gives no key */
  key: Buffer | undefined;
}

export type CtrOption =
  | { kind: 'journal_sectors' | 'interleave_sectors' | 'buffer_sectors' | 'journal_watermark' | 'commit_time' | 'block_size' | 'bitmap_flush_interval'; value: number }
  | { kind: 'sectors_per_bit'; value: bigint }
  | { kind: 'meta_device'; path: string }
  | { kind: 'internal_hash' | 'journal_crypt' | 'journal_mac'; spec: AlgSpec }
  | { kind: 'flag'; name: string };

export const refuse = (error: string, at: string, errno = 'EINVAL'): CtrRefusal => ({ ok: false, error, errno, at });
/** A refusal whose errno differs between kernels (dm_get_device(): -ENODEV in 6.1, lookup_bdev()'s -ENOENT later). */
export const refuseAnyErrno = (error: string, at: string): CtrRefusal => ({ ok: false, error, errno: undefined, at });

const U32_MAX = 2 ** 32 - 1;

/** The digits after `prefix` as sscanf's %u/%llu take them in the cases the model describes, or undefined. */
function scanDigits(s: string, prefix: string): string | undefined {
  if (!s.startsWith(prefix)) return undefined;
  const rest = s.slice(prefix.length);
  if (/^\d+$/.test(rest)) return rest;
  // %u also skips blanks and takes a sign, and overflows silently: not what a table should rely on
  if (/^[\s+-]/.test(rest)) throw new ModelInputError(`'${s}': a value with a sign or leading blank is not modelled`);
  return undefined;
}

/** sscanf(s, "<prefix>%u%c") == 1 in the cases the model describes: decimal digits to the end, within u32. */
export function scanU32(s: string, prefix: string): number | undefined {
  const digits = scanDigits(s, prefix);
  if (digits === undefined) return undefined;
  const v = Number(digits);
  if (v > U32_MAX) throw new ModelInputError(`'${s}': a value beyond 2^32-1 overflows %u; not modelled`);
  return v;
}

export function scanU64(s: string, prefix: string): bigint | undefined {
  const digits = scanDigits(s, prefix);
  if (digits === undefined) return undefined;
  const v = BigInt(digits);
  if (v >= 2n ** 64n) throw new ModelInputError(`'${s}': a value beyond 2^64-1 overflows %llu; not modelled`);
  return v;
}

/** get_alg_and_key(): "<name>[:<hex key>]" after the option's prefix; an odd or non-hex key is refused. */
function algAndKey(s: string, what: string): AlgSpec | CtrRefusal {
  const body = s.slice(s.indexOf(':') + 1);
  const k = body.indexOf(':');
  if (k < 0) return { alg: body, key: undefined };
  const hex = body.slice(k + 1);
  const bad = refuse(`Invalid ${what} argument`, s);
  if (hex.length % 2) return bad;
  if (!/^[0-9a-fA-F]*$/.test(hex)) return bad;
  return { alg: body.slice(0, k), key: Buffer.from(hex, 'hex') };
}

const VALUE_OPTIONS = ['journal_sectors', 'interleave_sectors', 'buffer_sectors', 'journal_watermark', 'commit_time'] as const;

/**
 * One optional argument, as the ctr's if/else chain reads it (first match wins; a value option whose value
 * does not scan falls through to the next tests and ends as "Invalid argument", like journal_watermark:101).
 */
export function scanOption(s: string, k: CtrKernel): CtrOption | CtrRefusal {
  for (const kind of VALUE_OPTIONS) {
    const v = scanU32(s, `${kind}:`);
    if (v !== undefined && (kind !== 'journal_watermark' || v <= 100)) return { kind, value: v };
  }
  if (s.startsWith('meta_device:')) return { kind: 'meta_device', path: s.slice('meta_device:'.length) };
  const bs = scanU32(s, 'block_size:');
  if (bs !== undefined) {
    if (bs < 512 || bs > 4096 || (bs & (bs - 1))) return refuse('Invalid block_size argument', s);
    return { kind: 'block_size', value: bs };
  }
  const spb = scanU64(s, 'sectors_per_bit:');
  if (spb !== undefined) return { kind: 'sectors_per_bit', value: spb };
  const fi = scanU32(s, 'bitmap_flush_interval:');
  if (fi !== undefined) {
    if (fi >= Math.floor((U32_MAX * 1000) / k.hz)) return refuse('Invalid bitmap_flush_interval argument', s);
    return { kind: 'bitmap_flush_interval', value: fi };
  }
  for (const [kind, what] of [['internal_hash', 'internal_hash'], ['journal_crypt', 'journal_crypt'], ['journal_mac', 'journal_mac']] as const) {
    if (s.startsWith(`${kind}:`)) {
      const spec = algAndKey(s, what);
      return 'ok' in spec ? spec : { kind, spec };
    }
  }
  if (k.unmodelledFlags.has(s)) throw new ModelInputError(`'${s}': this kernel knows the option, the model does not describe it`);
  if (k.flags.has(s)) return { kind: 'flag', name: s };
  return refuse('Invalid argument', s);
}

export interface CtrArgs {
  device: string;
  start: number;
  /** undefined: "-" (the internal hash's digest size) */
  tagSize: number | undefined;
  mode: string;
  options: CtrOption[];
}

/**
 * The positional arguments and the option group, up to the point where the ctr looks anything up. Device
 * lookups interleave with this in the kernel (argv[0] first, meta_device: in option order); `lookup` says
 * whether a path names a block device, so the first failing step names the error.
 */
export function scanCtrArgs(argv: readonly string[], k: CtrKernel, lookup: (path: string) => boolean): CtrArgs | CtrRefusal {
  if (argv.length <= 4) return refuse('Invalid argument count', `${argv.length} arguments`);
  // dm_get_device(): -ENODEV or -ENOENT depending on the kernel's lookup path, so no errno is claimed
  if (!lookup(argv[0]!)) return refuseAnyErrno('Device lookup failed', argv[0]!);
  const startText = argv[1]!;
  const start = scanU64(startText, '');
  if (start === undefined) return refuse('Invalid starting offset', startText);
  if (start > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModelInputError(`starting offset ${startText} is beyond what the model describes`);
  let tagSize: number | undefined;
  if (argv[2] !== '-') {
    tagSize = scanU32(argv[2]!, '');
    if (tagSize === undefined || tagSize === 0) return refuse('Invalid tag size', argv[2]!);
  }
  const mode = argv[3]!;
  if (mode.length !== 1 || !k.modes.includes(mode)) return refuse(`Invalid mode (expecting ${[...k.modes].join(', ')})`, mode);
  // dm_read_arg_group(): the count must scan, be within the limit and not exceed the arguments left
  const count = scanU32(argv[4]!, '');
  if (count === undefined || count > k.maxFeatureArgs || count > argv.length - 5) return refuse('Invalid number of feature args', argv[4]!);
  const options: CtrOption[] = [];
  // arguments past the group are never looked at
  for (const s of argv.slice(5, 5 + count)) {
    const o = scanOption(s, k);
    if ('ok' in o) return o;
    if (o.kind === 'meta_device' && !lookup(o.path)) return refuseAnyErrno('Device lookup failed', s);
    options.push(o);
  }
  return { device: argv[0]!, start: Number(start), tagSize, mode, options };
}
