/**
 * The one place that builds ih-io's command line (io.c's parse_args reads it): a typed command per
 * subcommand in, the argv the guest runs out. Each subcommand's options come out in one fixed order,
 * because steps.jsonl records the argv as run and the reproducers replay it word for word.
 */

/** A size as io.c's parse_size reads it: bytes, or with a binary suffix K M G, or s for 512-byte sectors. */
export type IoSize = number | `${number}${'K' | 'M' | 'G' | 's'}`;

/** Test only (io.c --fail-range): reads overlapping [offset, offset+length) fail with errno, not issued. */
export interface FailRange {
  offset: number;
  length: number;
  errno: number;
}

/** Who issues a transfer's I/Os at once: that many threads (--jobs) or processes (--procs); io.c takes one. */
type Workers = { jobs?: number | undefined; procs?: undefined } | { procs?: number | undefined; jobs?: undefined };

/** io.c's "transfer options", shared by read and copy. */
interface TransferOptions {
  length?: IoSize | undefined;
  bs?: IoSize | undefined;
  block?: IoSize | undefined;
  fua?: boolean | undefined;
  fsync?: boolean | undefined;
  noDirect?: boolean | undefined;
  srcBuffered?: boolean | undefined;
  dstBuffered?: boolean | undefined;
  logOk?: boolean | undefined;
  /** skip io.c's O_DIRECT alignment refusal: the kernel answers, usually EINVAL */
  unaligned?: boolean | undefined;
  failRanges?: FailRange[] | undefined;
  /** each I/O on the device under test one preadv/pwritev of up to this many scattered, block-aligned pieces */
  iov?: number | undefined;
}

export type ReadCommand = { cmd: 'read'; dev: string; offset?: IoSize | undefined; out?: string | undefined; outOffset?: IoSize | undefined }
  & TransferOptions & Workers;
export type CopyCommand = { cmd: 'copy'; src: string; srcOffset?: IoSize | undefined; dst: string; dstOffset?: IoSize | undefined }
  & TransferOptions & Workers;
export type ZeroCommand = {
  cmd: 'zero'; dev: string; offset?: IoSize | undefined; length?: IoSize | undefined; bs?: IoSize | undefined;
  fua?: boolean | undefined; fsync?: boolean | undefined;
} & Workers;
export interface DiscardCommand { cmd: 'discard'; dev: string; offset?: IoSize | undefined; length?: IoSize | undefined }
export interface FlushCommand { cmd: 'flush'; dev: string }
export interface InfoCommand { cmd: 'info'; dev: string }
/** Instantiates a kernel crypto algorithm through AF_ALG, so /proc/crypto lists it. */
export interface AlgCommand { cmd: 'alg'; name: string }

/**
 * io-race.c: `procs` processes, each with up to `qd` requests in flight, issue `ops` reads and writes of 1 to
 * `maxBlocks` blocks each at random block offsets of the hot range; `tag` marks this race's payload, `seed`
 * draws the I/Os.
 */
export interface RaceCommand {
  cmd: 'race'; dev: string; offset: number; length: number; block: number; procs: number; ops: number; qd: number;
  maxBlocks: number; writePercent: number; seed: number; tag: number;
  churn?: RaceChurn | undefined;
}

/** dmsetup's suspend flags a churn cycle passes (`default`: none). */
export type ChurnFlags = 'default' | 'noflush' | 'nolockfs' | 'noflush,nolockfs';

/**
 * A device-mapper device suspended, optionally reloaded and resumed, cycle after cycle, while the race runs:
 * cycle k uses `cycles[k % cycles.length]`, whose `table` indexes `tables` (undefined: no reload).
 */
export interface RaceChurn {
  dm: string;
  tables: string[];
  cycles: Array<{ flags: ChurnFlags; table?: number | undefined }>;
  holdUs: number;
  gapUs: number;
}

/**
 * io-race.c's unstable: `writes` O_DIRECT writes of `writeBlocks` blocks each, in turn over the range, of a
 * buffer a second thread keeps rewriting until the write completes; each block read back alone after its write.
 */
export interface UnstableCommand {
  cmd: 'unstable'; dev: string; offset: number; length: number; block: number; writes: number; writeBlocks: number; tag: number;
}

export type IoCommand = ReadCommand | CopyCommand | ZeroCommand | DiscardCommand | FlushCommand | InfoCommand | AlgCommand | RaceCommand | UnstableCommand;

/** The subcommands io.c's parse_args reads (alg takes one name; race and unstable are parsed by io-race.c, below). */
export type OptionCommand = Exclude<IoCommand['cmd'], 'alg' | 'race' | 'unstable'>;

type KeysOf<T> = T extends unknown ? keyof T : never;
/** The option fields of one subcommand's command type. */
export type IoField<C extends OptionCommand> = Exclude<KeysOf<Extract<IoCommand, { cmd: C }>>, 'cmd'>;

/** text: a path, as given; size: IoSize; flag: present when true; ranges: the option once per FailRange. */
export type OptionKind = 'text' | 'size' | 'flag' | 'ranges';

/** The transfer options read and copy write after their devices and offsets, and the ones after those. */
const TRANSFER = [
  ['length', '--length', 'size'], ['bs', '--bs', 'size'], ['block', '--block', 'size'], ['jobs', '--jobs', 'size'],
  ['procs', '--procs', 'size'], ['unaligned', '--unaligned', 'flag'],
] as const;
const TRANSFER_MODES = [
  ['srcBuffered', '--src-buffered', 'flag'], ['dstBuffered', '--dst-buffered', 'flag'], ['noDirect', '--no-direct', 'flag'],
  ['fua', '--fua', 'flag'], ['fsync', '--fsync', 'flag'], ['failRanges', '--fail-range', 'ranges'], ['iov', '--iov', 'size'],
] as const;

/**
 * Each subcommand's options in the order they are written. The order of the options read and copy had
 * when each call site built its own argv is kept, so a run records the argv it always did.
 */
export const IO_OPTIONS = {
  read: [
    ['dev', '--dev', 'text'], ['offset', '--offset', 'size'], ...TRANSFER,
    ['out', '--out', 'text'], ['outOffset', '--out-offset', 'size'], ['logOk', '--log-ok', 'flag'], ...TRANSFER_MODES,
  ],
  copy: [
    ['src', '--src', 'text'], ['srcOffset', '--src-offset', 'size'], ['dst', '--dst', 'text'], ['dstOffset', '--dst-offset', 'size'],
    ...TRANSFER, ['logOk', '--log-ok', 'flag'], ...TRANSFER_MODES,
  ],
  zero: [
    ['dev', '--dev', 'text'], ['offset', '--offset', 'size'], ['length', '--length', 'size'], ['bs', '--bs', 'size'],
    ['jobs', '--jobs', 'size'], ['procs', '--procs', 'size'], ['fua', '--fua', 'flag'], ['fsync', '--fsync', 'flag'],
  ],
  discard: [['dev', '--dev', 'text'], ['offset', '--offset', 'size'], ['length', '--length', 'size']],
  flush: [['dev', '--dev', 'text']],
  info: [['dev', '--dev', 'text']],
} as const satisfies { [C in OptionCommand]: ReadonlyArray<readonly [IoField<C>, `--${string}`, OptionKind]> };

const SIZE_TEXT = /^\d+[KMGs]?$/;

const isFailRange = (r: FailRange): boolean =>
  [r.offset, r.length].every((n) => Number.isSafeInteger(n) && n >= 0) && Number.isSafeInteger(r.errno) && r.errno > 0;

function optionValue(cmd: string, flag: string, kind: OptionKind, v: unknown): string[] {
  const bad = (want: string) => new TypeError(`ih-io ${cmd} ${flag}: expected ${want}, got ${JSON.stringify(v)}`);
  switch (kind) {
    case 'flag':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v ? [flag] : [];
    case 'text':
      if (typeof v !== 'string' || v === '') throw bad('a non-empty path');
      return [flag, v];
    case 'size':
      if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return [flag, String(v)];
      if (typeof v === 'string' && SIZE_TEXT.test(v)) return [flag, v];
      throw bad('a byte count (a non-negative integer, or digits with K, M, G or s)');
    case 'ranges':
      if (!Array.isArray(v) || !v.every(isFailRange)) throw bad('a list of {offset, length, errno} (integers, errno > 0)');
      return v.flatMap((r: FailRange) => [flag, `${r.offset}:${r.length}:${r.errno}`]);
  }
}

/** io-race.c's options, every one always written, in this order. */
const RACE_OPTIONS = [
  ['offset', '--offset'], ['length', '--length'], ['block', '--block'], ['procs', '--procs'], ['ops', '--ops'], ['qd', '--qd'],
  ['maxBlocks', '--max-blocks'], ['writePercent', '--write-percent'], ['seed', '--seed'], ['tag', '--tag'],
] as const satisfies ReadonlyArray<readonly [Exclude<keyof RaceCommand, 'cmd' | 'dev' | 'churn'>, `--${string}`]>;

/** io-race.c's unstable options, every one always written, in this order. */
const UNSTABLE_OPTIONS = [
  ['offset', '--offset'], ['length', '--length'], ['block', '--block'], ['writes', '--writes'], ['writeBlocks', '--write-blocks'], ['tag', '--tag'],
] as const satisfies ReadonlyArray<readonly [Exclude<keyof UnstableCommand, 'cmd' | 'dev'>, `--${string}`]>;

function numberArgv<C extends RaceCommand | UnstableCommand>(c: C, options: ReadonlyArray<readonly [keyof C, string]>): string[] {
  if (c.dev === '') throw new TypeError(`ih-io ${c.cmd} --dev: expected a non-empty path, got ""`);
  const argv = ['ih-io', c.cmd, '--dev', c.dev];
  for (const [field, flag] of options) {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new TypeError(`ih-io ${c.cmd} ${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    argv.push(flag, String(v));
  }
  if (c.cmd === 'race' && c.churn !== undefined) argv.push(...churnArgv(c.churn));
  return argv;
}

function churnArgv(c: RaceChurn): string[] {
  if (c.dm === '' || c.dm.includes('/')) throw new TypeError(`ih-io race --churn-dev: expected a device-mapper name, got ${JSON.stringify(c.dm)}`);
  if (c.tables.length > 4) throw new TypeError(`ih-io race --churn-table: at most 4, got ${c.tables.length}`);
  if (c.cycles.length < 1 || c.cycles.length > 8) throw new TypeError(`ih-io race --churn-cycle: 1 to 8, got ${c.cycles.length}`);
  const argv = ['--churn-dev', c.dm];
  for (const t of c.tables) argv.push('--churn-table', t);
  for (const y of c.cycles) {
    if (y.table !== undefined && !(Number.isInteger(y.table) && y.table >= 0 && y.table < c.tables.length)) {
      throw new TypeError(`ih-io race --churn-cycle: table ${y.table} of ${c.tables.length}`);
    }
    argv.push('--churn-cycle', `${y.flags}/${y.table ?? '-'}`);
  }
  for (const [v, flag] of [[c.holdUs, '--churn-hold-us'], [c.gapUs, '--churn-gap-us']] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`ih-io race ${flag}: expected a non-negative integer, got ${JSON.stringify(v)}`);
    argv.push(flag, String(v));
  }
  return argv;
}

/** The argv of one ih-io command: options left undefined (or false) are not written. */
export function ioArgv(c: IoCommand): string[] {
  if (c.cmd === 'race') return numberArgv(c, RACE_OPTIONS);
  if (c.cmd === 'unstable') return numberArgv(c, UNSTABLE_OPTIONS);
  if (c.cmd === 'alg') {
    if (c.name === '') throw new TypeError('ih-io alg: expected an algorithm name, got ""');
    return ['ih-io', 'alg', c.name];
  }
  const fields = c as unknown as Record<string, unknown>;
  const argv = ['ih-io', c.cmd];
  for (const [field, flag, kind] of IO_OPTIONS[c.cmd]) {
    const v = fields[field];
    if (v !== undefined) argv.push(...optionValue(c.cmd, flag, kind, v));
  }
  return argv;
}
