import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { checkCrashStep, checkKillStep } from './crash-semantics.ts';
import { checkCryptAeadScenario } from '../stacks/crypt/crypt-check.ts';
import { parseIntegrityPlaceholder } from '../stacks/crypt/integrity-placeholder.ts';
import { MAX_TAG_SIZE } from '../model/integrity/superblock.ts';
import { digestSize, isKeyedHash } from '../model/integrity/tags.ts';
import { checkLuks2Scenario } from '../stacks/crypt/luks-check.ts';
import { scenarioSchema, stepSchema, type IoRange, type RaceStep, type ScenarioBody, type Step } from './schema.ts';
import { type IntegrityStack } from '../stacks/integrity/integrity-schema.ts';

export interface Scenario extends ScenarioBody {
  /** Path relative to the scenarios directory, without extension: "integrity/001-crc32c-journal". */
  id: string;
  file: string;
}

/** Disk names the harness uses for its own transfer disks. */
export const RESERVED_DISKS = ['payload', 'out'];

export class ScenarioError extends UsageError {
  override name = 'ScenarioError';
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
}

type Issue = z.core.$ZodIssue;

/** A branch "fails at its root" when the input is not even its shape: a different literal or a different key. */
function failsAtRoot(branch: Issue[]): boolean {
  return branch.every((i) => i.path.length === 0 || (i.path.length === 1 && (i as { input?: unknown }).input === undefined));
}

/** The keys of the object branches of a union of single-key objects (the step forms). */
const UNION_KEYS = new Map<string, string[]>([['steps', stepSchema.options.flatMap((o) => ('shape' in o ? Object.keys(o.shape) : []))]]);

function shown(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * A union error says only "Invalid input". When the input matched one branch's shape (the right key), report
 * that branch's own problems; when it matched none, list what each branch accepts.
 */
function explainUnion(issue: Issue & { code: 'invalid_union' }): Issue[] {
  const branches = issue.errors;
  const deep = branches.filter((b) => !failsAtRoot(b));
  if (deep.length > 0) {
    const best = deep.reduce((a, b) => (Math.max(...b.map((i) => i.path.length)) > Math.max(...a.map((i) => i.path.length)) ? b : a));
    return best.flatMap((i) => expand({ ...i, path: [...issue.path, ...i.path] } as Issue));
  }
  const words: string[] = [];
  const keys: string[] = [...(UNION_KEYS.get(String(issue.path[0])) ?? [])];
  for (const b of branches) {
    for (const i of b) {
      if (i.code === 'invalid_value') words.push(...i.values.map((v) => JSON.stringify(v)));
      else if (i.path.length === 1 && !keys.includes(String(i.path[0]))) keys.push(String(i.path[0]));
    }
  }
  const input = (issue as { input?: unknown }).input;
  const parts = [words.length ? `one of ${words.join(', ')}` : '', keys.length ? `an object with one key of ${keys.join(', ')}` : ''].filter(Boolean);
  const message = parts.length ? `expected ${parts.join(' or ')}; got ${shown(input)}` : `matches no accepted form; got ${shown(input)}`;
  return [{ ...issue, message } as Issue];
}

function expand(i: Issue): Issue[] {
  return i.code === 'invalid_union' && i.errors.length > 0 ? explainUnion(i) : [i];
}

function formatIssues(file: string, issues: Issue[]): string {
  const lines = issues.flatMap(expand).map((i) => `${file}: ${fieldPath(i.path)}: ${i.message}`);
  return [...new Set(lines)].join('\n');
}

/** A dm-delay lower device: its delays given exactly when it is asked for, and no step that bypasses it. */
function checkLowerDelay(stack: IntegrityStack, steps: Step[]): string[] {
  if (stack.lower !== 'delay') {
    return stack.lowerDelay !== undefined ? [`stack.lowerDelay: applies to lower: delay only, the lower device is ${stack.lower}`] : [];
  }
  const errs: string[] = [];
  if (stack.lowerDelay === undefined) errs.push('stack.lower: delay needs stack.lowerDelay: { read, write, flush } in milliseconds (e.g. { read: 2, write: 5, flush: 1 })');
  if (steps.some((x) => typeof x === 'object' && ('crash' in x || 'kill' in x))) errs.push('stack.lower: delay: crash and kill steps rebuild the stack on dm-log-writes over the disk, without the dm-delay device; use lower: disk');
  return errs;
}

/** Checks what the schema cannot: references, units, and that each step fits the stack's state. */
export function checkSemantics(_file: string, s: ScenarioBody): string[] {
  const errs: string[] = [];
  const disks = new Map(s.disks.map((d) => [d.name, d]));
  s.disks.forEach((d, i) => {
    if (RESERVED_DISKS.includes(d.name)) errs.push(`disks[${i}].name: '${d.name}' is reserved for the harness`);
    if (s.disks.findIndex((e) => e.name === d.name) !== i) errs.push(`disks[${i}].name: '${d.name}' is declared twice`);
    if (d.size % 4096 !== 0 || d.size === 0) errs.push(`disks[${i}].size: ${d.size} is not a positive multiple of 4096`);
  });
  const stack = s.stack;
  const disk = disks.get(stack.disk);
  if (disk === undefined) errs.push(`stack.disk: '${stack.disk}' is not one of the declared disks (${[...disks.keys()].join(', ')})`);
  if (stack.type === 'integrity') {
    if (stack.metaDisk !== undefined) {
      if (!disks.has(stack.metaDisk)) errs.push(`stack.metaDisk: '${stack.metaDisk}' is not one of the declared disks (${[...disks.keys()].join(', ')})`);
      else if (stack.metaDisk === stack.disk) errs.push(`stack.metaDisk: '${stack.metaDisk}' is also stack.disk; a separate metadata disk must be another disk`);
    }
    if (isKeyedHash(stack.hash) && stack.key === undefined) errs.push(`stack.key: ${stack.hash} needs a hex key`);
    for (const [field, mode] of [['journalWatermark', 'journal'], ['journalCommitTime', 'journal'], ['bitmapSectorsPerBit', 'bitmap'], ['bitmapFlushTime', 'bitmap']] as const) {
      if (stack[field] !== undefined && stack.mode !== mode) errs.push(`stack.${field}: applies to ${mode} mode only, the mode is ${stack.mode}`);
    }
    if (!isKeyedHash(stack.hash) && stack.key !== undefined) errs.push(`stack.key: only the hmac-* hashes take a key, the hash is ${stack.hash}`);
    errs.push(...checkLowerDelay(stack, s.steps));
    if (stack.table !== undefined) {
      if (stack.lower !== 'disk') errs.push('stack.table: a raw-table stack sits on its disk directly (lower: disk)');
      if (s.steps.some((x) => typeof x === 'object' && ('crash' in x || 'kill' in x))) errs.push('stack.table: crash and kill steps rebuild the stack with integritysetup; not with a raw table');
    }
  }
  if (stack.type === 'crypt-aead') errs.push(...checkCryptAeadScenario(stack, s.steps, disk));
  if (stack.type === 'luks2') errs.push(...checkLuks2Scenario(stack, s.steps, disk));
  const unit = stack.sectorSize;
  const stackDisks = [stack.disk, ...(stack.type === 'integrity' && stack.metaDisk !== undefined ? [stack.metaDisk] : [])];
  const protectedDisks: string[] = [];
  s.disks.forEach((d, i) => {
    if (!stackDisks.includes(d.name)) return;
    if (d.logicalBlockSize > unit) {
      errs.push(`disks[${i}].logicalBlockSize: ${d.logicalBlockSize} is larger than the stack's sectorSize ${unit}; the model does not say what a stack of smaller sectors does on such a disk`);
    }
    if (d.nvme !== undefined && d.nvme.pi !== 0) protectedDisks.push(d.name);
  });
  let open = true;
  /** the stack is open in recovery mode: the kernel refuses every write */
  let recovery = false;
  let brokenAt: number | undefined;
  /** disk -> the {integrity:...} a crypt table formats it with (one per disk: its first load formats it) */
  const integrityHelpers = new Map<string, string>();
  const erroring = new Set<number>();
  s.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const needOpen = (what: string) => {
      if (open) return;
      errs.push(brokenAt !== undefined
        ? `${at}: '${what}' needs the stack open, but steps[${brokenAt}] corrupted the superblock: no open can succeed after it`
        : `${at}: '${what}' needs the stack open (add an 'open' step before it)`);
    };
    const needClosed = (what: string) => {
      if (open) errs.push(`${at}.${what}: the host can only change a closed stack (add a 'close' step before it)`);
      // The namespace checks its own guard tags first: a changed block fails below the stack, which the
      // model does not follow (it would fail dm-integrity's tag reads, and with them the whole device).
      if (protectedDisks.length > 0) errs.push(`${at}.${what}: host changes under T10 protection information are not modelled (disk(s) ${protectedDisks.join(', ')} have nvme.pi ${'>'} 0)`);
    };
    if (step === 'open' || (typeof step === 'object' && 'open' in step)) {
      if (open) errs.push(`${at}: 'open' but the stack is already open`);
      if (typeof step !== 'string' && stack.type !== 'integrity') errs.push(`${at}.open.mode: only an integrity stack opens in another mode`);
      if (typeof step !== 'string' && stack.type === 'integrity') {
        const tuned = (['journalWatermark', 'journalCommitTime', 'bitmapSectorsPerBit', 'bitmapFlushTime'] as const).filter((f) => stack[f] !== undefined);
        if (tuned.length > 0) errs.push(`${at}.open.mode: the stack's ${tuned.join(', ')} belong to one mode; a scenario that changes mode sets none`);
        if (step.open.mode === 'recovery') errs.push(...checkRecoveryOpen(`${at}.open.mode`, stack, brokenAt));
      }
      recovery = typeof step !== 'string' && step.open.mode === 'recovery';
      open = brokenAt === undefined;
    } else if (step === 'close') {
      if (!open) errs.push(`${at}: 'close' but the stack is already closed`);
      open = false;
    } else if (step === 'status' || step === 'flush' || step === 'reload' || step === 'suspend') {
      needOpen(step);
    } else if ('corrupt' in step) {
      needClosed('corrupt');
      if (step.corrupt.where === 'iv' && stack.type === 'integrity') errs.push(`${at}.corrupt.where: 'iv' exists only in crypt-aead and luks2 stacks (the IV in the dm-crypt tuple); use data or tag`);
      errs.push(...checkBlocks(`${at}.corrupt.blocks`, step.corrupt.blocks, unit, disk?.size));
      errs.push(...checkCorruptByte(`${at}.corrupt.byte`, step.corrupt, stack));
    } else if ('swap' in step) {
      needClosed('swap');
      const [a, b] = step.swap.blocks;
      errs.push(...checkBlocks(`${at}.swap.blocks`, [a, b], unit, disk?.size));
      if (a === b) errs.push(`${at}.swap.blocks: swapping block ${a} with itself changes nothing; name two different blocks`);
    } else if ('corruptSuperblock' in step) {
      needClosed('corruptSuperblock');
      brokenAt = i;
    } else if ('corruptJournal' in step) {
      needClosed('corruptJournal');
      if ('mode' in stack && stack.mode !== 'journal') errs.push(`${at}.corruptJournal: the stack's mode is ${stack.mode}; only journal mode keeps a journal`);
    } else if ('ioError' in step) {
      needClosed('ioError');
      if (stack.type !== 'integrity' || stack.lower !== 'linear') errs.push(`${at}.ioError: needs stack.lower: linear (dm-error is mapped into the dm-linear device under dm-integrity)`);
      errs.push(...checkBlocks(`${at}.ioError.blocks`, step.ioError.blocks, unit, disk?.size));
      step.ioError.blocks.forEach((b) => erroring.add(b));
    } else if ('discard' in step) {
      needOpen('discard');
      const r = step.discard;
      errs.push(...checkAligned(`${at}.discard`, r.offset, r.length, unit, disk?.size));
      errs.push(...checkNotErroring(`${at}.discard`, r.offset, r.length, unit, erroring));
    } else if ('race' in step) {
      needOpen('race');
      errs.push(...checkRace(`${at}.race`, step.race, unit, disk?.size));
      errs.push(...checkNotErroring(`${at}.race`, step.race.offset, step.race.length, unit, erroring));
    } else if ('unstable' in step) {
      needOpen('unstable');
      if (recovery) errs.push(`${at}.unstable: the stack is open in recovery mode, which refuses every write`);
      errs.push(...checkAligned(`${at}.unstable`, step.unstable.offset, step.unstable.length, unit, disk?.size));
      errs.push(...checkNotErroring(`${at}.unstable`, step.unstable.offset, step.unstable.length, unit, erroring));
      if (step.unstable.length % (step.unstable.writeBlocks * unit)) errs.push(`${at}.unstable.writeBlocks: writes of ${step.unstable.writeBlocks} blocks of ${unit} bytes do not tile the ${step.unstable.length}-byte range`);
    } else if ('tables' in step) {
      if (stack.type === 'crypt-aead') {
        // raw dm-crypt tables on lower devices of their own: the stack may be open or closed
        errs.push(...checkCryptTables(`${at}.tables`, step.tables, disks, stackDisks, integrityHelpers));
        return;
      }
      if (stack.type !== 'integrity') errs.push(`${at}.tables: raw tables belong to an integrity stack's scenario (dm-integrity tables) or a crypt-aead one (dm-crypt tables)`);
      needClosed('tables');
      errs.push(...checkTablePlaceholders(`${at}.tables`, step.tables.map((t) => t.args), disks));
    } else if ('profiles' in step) {
      step.profiles.forEach((t, j) => {
        for (const [f, names] of [['linear', t.linear], ['reload', t.reload ?? []]] as const) {
          names.forEach((n, k) => {
            if (!disks.has(n)) errs.push(`${at}.profiles[${j}].${f}[${k}]: '${n}' names no declared disk (declared: ${[...disks.keys()].join(', ')})`);
          });
        }
      });
    } else if ('crash' in step) {
      needOpen('crash');
      if (recovery) errs.push(`${at}.crash: the stack is open in recovery mode, which refuses every write; a crash step needs writes to cut`);
      errs.push(...checkCrashStep(`${at}.crash`, step.crash, s, i));
    } else if ('kill' in step) {
      needOpen('kill');
      if (recovery) errs.push(`${at}.kill: the stack is open in recovery mode, which refuses every write; a kill step needs writes to cut`);
      errs.push(...checkKillStep(`${at}.kill`, step.kill, s, i));
    } else {
      const [kind, r] = 'write' in step ? ['write', step.write] as const : ['read', step.read] as const;
      needOpen(kind);
      errs.push(...checkRange(`${at}.${kind}`, r, unit, disk?.size));
      if (kind === 'write') errs.push(...checkNotErroring(`${at}.write`, r.offset, r.length, unit, erroring));
      if (kind === 'read' && r.fua) errs.push(`${at}.read.fua: FUA applies to writes only`);
      if (kind === 'read' && r.buffered) errs.push(`${at}.read.buffered: reads are O_DIRECT, so each block is the device's answer and not the page cache's`);
      if (kind === 'write' && r.buffered && recovery) errs.push(`${at}.write.buffered: the stack is open in recovery mode; what the page cache makes of writes the device refuses is not modelled (write O_DIRECT)`);
      if (kind === 'write' && r.buffered && (r.offset % PAGE || r.length % PAGE)) {
        // a partial page is read before it is written (the page cache's read-modify-write), which the model does not follow
        errs.push(`${at}.write.buffered: offset ${r.offset} and length ${r.length} must be multiples of ${PAGE}, so the page cache writes whole pages`);
      }
    }
  });
  return errs;
}

/**
 * What a recovery-mode open may not meet: a recalculation (which writes tags) and a raw-table stack (whose
 * mode is its table's: R belongs in a tables step) are refused; after a superblock fault, R mode builds a
 * superblock in memory where the others refuse (dm_integrity_ctr()), which the model does not follow.
 */
function checkRecoveryOpen(at: string, stack: IntegrityStack, brokenAt: number | undefined): string[] {
  const errs: string[] = [];
  if (stack.recalculate) errs.push(`${at}: recovery mode with stack.recalculate: a recalculation writes tags, which recovery mode never does; drop one`);
  if (stack.table !== undefined) errs.push(`${at}: a raw-table stack opens in its table's mode; try mode R in a tables step`);
  if (brokenAt !== undefined) errs.push(`${at}: steps[${brokenAt}] corrupted the superblock; what recovery mode makes of it is not modelled`);
  return errs;
}

/**
 * A crypt-aead scenario's dm-crypt tables: {disk:NAME[:N]}, {error:N}, {missing} as for dm-integrity tables,
 * {key:N} with N bytes, and {integrity:NAME:TAG[:BLOCK[:HASH]]} on a disk the stack does not use, always with
 * the same TAG, BLOCK and HASH (its first load formats the disk).
 */
function checkCryptTables(at: string, tables: Array<{ args: string; crash: boolean }>, disks: Map<string, { size: number }>, stackDisks: string[], helpers: Map<string, string>): string[] {
  const errs: string[] = [];
  tables.forEach((t, j) => {
    if (t.crash) errs.push(`${at}[${j}].crash: only dm-integrity tables leave a superblock to crash with`);
    const rest = t.args.replace(/\{key:([^}]*)\}/g, (_m, n: string) => {
      if (!/^\d+$/.test(n) || Number(n) === 0 || Number(n) > 512) errs.push(`${at}[${j}].args: {key:${n}}: expected {key:N} with 1 to 512 bytes`);
      return 'key';
    }).replace(/\{(integrity:[^}]*)\}/g, (_m, body: string) => {
      const p = parseIntegrityPlaceholder(body);
      const d = p && disks.get(p.disk);
      if (!p || d === undefined) errs.push(`${at}[${j}].args: {${body}}: expected {integrity:NAME:TAG[:BLOCK[:HASH]]} on a declared disk`);
      else if (stackDisks.includes(p.disk)) errs.push(`${at}[${j}].args: {${body}}: disk '${p.disk}' is the stack's; a helper formats its disk`);
      else if (p.tag === 0 || p.tag > MAX_TAG_SIZE || ![512, 1024, 2048, 4096].includes(p.block)) errs.push(`${at}[${j}].args: {${body}}: TAG must be 1 to ${MAX_TAG_SIZE}, BLOCK 512, 1024, 2048 or 4096`);
      else if ((helpers.get(p.disk) ?? body) !== body) errs.push(`${at}[${j}].args: {${body}}: disk '${p.disk}' was formatted by {${helpers.get(p.disk)}}; give each dm-integrity its own disk`);
      else helpers.set(p.disk, body);
      return '/dev/helper';
    });
    errs.push(...checkTablePlaceholders(at, [rest], disks).map((e) => e.replace(`${at}[0]`, `${at}[${j}]`)));
    for (const m of rest.matchAll(/\{disk:([^}:]*)/g)) {
      if (stackDisks.includes(m[1]!)) errs.push(`${at}[${j}].args: {disk:${m[1]}...}: the stack's disk; an accepted table would write it`);
    }
  });
  return errs;
}

/** {disk:NAME[:N]} must name a declared disk; N must leave room for a superblock and fit the disk. */
function checkTablePlaceholders(at: string, args: string[], disks: Map<string, { size: number }>): string[] {
  const errs: string[] = [];
  args.forEach((a, j) => {
    for (const m of a.matchAll(/\{([^}]*)\}/g)) {
      const [kind, name, n] = m[1]!.split(':');
      if (kind === 'disk') {
        const d = disks.get(name ?? '');
        if (d === undefined) errs.push(`${at}[${j}].args: {${m[1]}} names no declared disk`);
        else if (n !== undefined && (!/^\d+$/.test(n) || Number(n) === 0 || Number(n) * 512 > d.size)) errs.push(`${at}[${j}].args: {${m[1]}}: ${n} sectors is not within the ${d.size}-byte disk`);
      } else if (kind === 'error') {
        if (name === undefined || !/^\d+$/.test(name) || Number(name) === 0) errs.push(`${at}[${j}].args: {${m[1]}}: expected {error:N} with N sectors`);
      } else if (kind !== 'missing') {
        errs.push(`${at}[${j}].args: {${m[1]}} is none of {disk:NAME}, {disk:NAME:N}, {error:N}, {missing}`);
      }
    }
  });
  return errs;
}

/** A race's hot range is small, so its processes keep meeting on the same blocks (and its reads report on few sectors). */
const RACE_MAX_RANGE = 1024 * 1024;

function checkRace(at: string, r: RaceStep, unit: number, diskSize: number | undefined): string[] {
  const errs = checkAligned(at, r.offset, r.length, unit, diskSize);
  if (r.length > RACE_MAX_RANGE) errs.push(`${at}.length: ${r.length} bytes is no hot range; at most ${RACE_MAX_RANGE} (1 MiB), so the processes overlap`);
  if (r.length < 2 * unit) errs.push(`${at}.length: ${r.length} bytes is one block; give two blocks or more, so I/Os overlap partly`);
  if (r.maxBlocks * unit > r.length) errs.push(`${at}.maxBlocks: ${r.maxBlocks} blocks of ${unit} bytes do not fit the ${r.length}-byte range`);
  if (r.procs === 1 && r.qd === 1) errs.push(`${at}: one process with qd 1 issues one I/O at a time, which races nothing; raise procs or qd`);
  return errs;
}

/** The page size of the guests' x86-64 kernels. */
const PAGE = 4096;

function checkBlocks(at: string, blocks: number[], unit: number, diskSize: number | undefined): string[] {
  if (diskSize === undefined) return [];
  return blocks.filter((b) => (b + 1) * unit > diskSize).map((b) => `${at}: block ${b} is beyond the ${diskSize}-byte disk (${unit}-byte blocks)`);
}

function checkNotErroring(at: string, offset: number, length: number, unit: number, erroring: Set<number>): string[] {
  const hit = [...erroring].filter((b) => b * unit < offset + length && offset < (b + 1) * unit);
  return hit.length ? [`${at}: covers block(s) ${hit.join(', ')} under an ioError; what the lower device does to writes and discards there is not modelled`] : [];
}

function checkAligned(at: string, offset: number, length: number, unit: number, diskSize: number | undefined): string[] {
  const errs: string[] = [];
  if (offset % unit !== 0) errs.push(`${at}.offset: ${offset} is not a multiple of the stack's sector size ${unit}`);
  if (length === 0 || length % unit !== 0) errs.push(`${at}.length: ${length} is not a positive multiple of ${unit}`);
  if (diskSize !== undefined && offset + length > diskSize) errs.push(`${at}: ends at ${offset + length}, beyond the ${diskSize}-byte disk`);
  return errs;
}

function checkRange(at: string, r: IoRange, unit: number, diskSize: number | undefined): string[] {
  if (r.unaligned) {
    const errs: string[] = [];
    if (r.offset % unit === 0 && r.length % unit === 0) errs.push(`${at}.unaligned: offset ${r.offset} and length ${r.length} are both multiples of the sector size ${unit}; drop 'unaligned' or misalign the range`);
    if (r.length === 0) errs.push(`${at}.length: must be positive`);
    if (r.bs !== 'block') errs.push(`${at}.bs: an unaligned range is issued as one I/O; leave bs out`);
    if (r.procs !== undefined) errs.push(`${at}.procs: an unaligned range is issued as one I/O by one process`);
    if (r.iovecs !== undefined) errs.push(`${at}.iovecs: an unaligned range is one plain I/O; vectored pieces are block-aligned`);
    if (r.buffered) errs.push(`${at}.buffered: an unaligned range is an O_DIRECT refusal test; a buffered write has nothing to refuse`);
    if (diskSize !== undefined && r.offset + r.length > diskSize) errs.push(`${at}: ends at ${r.offset + r.length}, beyond the ${diskSize}-byte disk`);
    return errs;
  }
  const errs = checkAligned(at, r.offset, r.length, unit, diskSize);
  const bs = r.bs === 'block' ? unit : r.bs;
  if (bs % unit !== 0 || bs === 0) errs.push(`${at}.bs: ${bs} is not a positive multiple of ${unit}`);
  else if (r.length % bs !== 0) errs.push(`${at}.length: ${r.length} is not a multiple of bs ${bs}`);
  if (r.iovecs !== undefined && bs / unit < 2) errs.push(`${at}.iovecs: an I/O of one ${unit}-byte block cannot be split; give bs of two blocks or more`);
  if (r.iovecs !== undefined && r.buffered) errs.push(`${at}.iovecs: vectored I/O is O_DIRECT only (buffered writes reach the device as writeback)`);
  return errs;
}

/** Reads, parses and validates one scenario file; every problem is reported with the file and field. */
export async function loadScenario(file: string, scenariosDir: string): Promise<Scenario> {
  const shownFile = relative(process.cwd(), file) || file;
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ScenarioError(`${shownFile}: not valid YAML: ${err.message}`, { cause: err });
    throw new ScenarioError(`${shownFile}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const parsed = scenarioSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ScenarioError(formatIssues(shownFile, parsed.error.issues));
  const errs = checkSemantics(shownFile, parsed.data);
  if (errs.length > 0) throw new ScenarioError(errs.map((e) => `${shownFile}: ${e}`).join('\n'));
  const id = relative(scenariosDir, file).replace(/\.ya?ml$/, '');
  return { ...parsed.data, id, file };
}

/** corrupt.byte must fall inside what it names: the block (its sector size) or the tag (tagSize, else the digest). */
function checkCorruptByte(at: string, c: { where: string; byte: number }, stack: ScenarioBody['stack']): string[] {
  if (c.byte === 0) return [];
  if (stack.type !== 'integrity') return [`${at}: only integrity stacks take a byte to flip (a crypt tuple's bytes are all covered alike)`];
  const limit = c.where === 'tag' ? stack.tagSize ?? digestSize(stack.hash) : stack.sectorSize;
  return c.byte < limit ? [] : [`${at}: ${c.byte} is outside the block's ${c.where} (0..${limit - 1})`];
}
