import { digestSize, isKeyedHash, kernelHashName } from '../../model/integrity/tags.ts';
import { OPEN_OPTIONS, type IntegrityOpenMode, type IntegrityStack, type OpenedIntegrityStack } from './integrity-schema.ts';

/**
 * argv for the real tools that build and tear down a dm-integrity stack in the guest. Pure: the runner
 * executes them through the agent.
 */
const MODE_FLAG: Record<IntegrityOpenMode, string[]> = {
  journal: [],
  bitmap: ['--integrity-bitmap-mode'],
  direct: ['--integrity-no-journal'],
  // table mode R: the cell checks that the live table says so
  recovery: ['--integrity-recovery-mode'],
};

export const KEY_FILE = '/tmp/ih-integrity.key';
export const JOURNAL_MAC_KEY_FILE = '/tmp/ih-journal-mac.key';
export const JOURNAL_CRYPT_KEY_FILE = '/tmp/ih-journal-crypt.key';

/** Key files the stack's commands read, with their bytes: written in the guest before format and after a reboot. */
export function integrityKeyFiles(s: IntegrityStack): Array<{ file: string; key: Buffer }> {
  return [
    ...(s.key !== undefined ? [{ file: KEY_FILE, key: Buffer.from(s.key, 'hex') }] : []),
    ...(s.journalIntegrity !== undefined ? [{ file: JOURNAL_MAC_KEY_FILE, key: Buffer.from(s.journalIntegrity.key, 'hex') }] : []),
    ...(s.journalCrypt !== undefined ? [{ file: JOURNAL_CRYPT_KEY_FILE, key: Buffer.from(s.journalCrypt.key, 'hex') }] : []),
  ];
}

/** The journal's MAC and encryption: integritysetup wants them at format and at every open. */
function journalArgs(s: Pick<IntegrityStack, 'journalIntegrity' | 'journalCrypt'>): string[] {
  const argv: string[] = [];
  const j = s.journalIntegrity;
  if (j !== undefined) argv.push('--journal-integrity', j.alg, '--journal-integrity-key-file', JOURNAL_MAC_KEY_FILE, '--journal-integrity-key-size', String(j.key.length / 2));
  const c = s.journalCrypt;
  if (c !== undefined) argv.push('--journal-crypt', c.alg, '--journal-crypt-key-file', JOURNAL_CRYPT_KEY_FILE, '--journal-crypt-key-size', String(c.key.length / 2));
  return argv;
}

function hashArgs(s: Pick<IntegrityStack, 'hash' | 'key'>): string[] {
  if (isKeyedHash(s.hash)) return ['--integrity', s.hash, '--integrity-key-file', KEY_FILE, '--integrity-key-size', String(s.key!.length / 2)];
  return ['--integrity', s.hash];
}

/** Where the stack's devices are in the guest: with a metadata device, integritysetup's device is that one. */
export interface IntegrityDevices {
  data: string;
  meta?: string;
}

function deviceArgs(d: IntegrityDevices): { device: string; extra: string[] } {
  return d.meta !== undefined ? { device: d.meta, extra: ['--data-device', d.data] } : { device: d.data, extra: [] };
}

export function integrityFormatArgv(s: IntegrityStack, d: IntegrityDevices): string[] {
  const { device, extra } = deviceArgs(d);
  const argv = ['integritysetup', 'format', '--batch-mode', device, ...extra, ...hashArgs(s), ...journalArgs(s), '--sector-size', String(s.sectorSize)];
  if (s.interleaveSectors !== undefined) argv.push('--interleave-sectors', String(s.interleaveSectors));
  // open takes the tag size from the superblock (integritysetup refuses --tag-size there)
  if (s.tagSize !== undefined) argv.push('--tag-size', String(s.tagSize));
  if (s.journalSize !== undefined) argv.push('--journal-size', String(s.journalSize));
  if (s.noWipe) argv.push('--no-wipe');
  return argv;
}

export function integrityOpenArgv(s: OpenedIntegrityStack, d: IntegrityDevices, name: string): string[] {
  const { device, extra } = deviceArgs(d);
  const argv = ['integritysetup', 'open', device, name, ...extra, ...hashArgs(s), ...journalArgs(s), ...MODE_FLAG[s.mode]];
  if (s.allowDiscards) argv.push('--allow-discards');
  if (s.recalculate) argv.push(s.recalculate === 'reset' ? '--integrity-recalculate-reset' : '--integrity-recalculate');
  for (const [field, flag] of OPEN_OPTIONS) if (s[field] !== undefined) argv.push(flag, String(s[field]));
  return argv;
}

export const MODE_LETTER: Record<IntegrityOpenMode, string> = { journal: 'J', bitmap: 'B', direct: 'D', recovery: 'R' };

/**
 * The integrity target's arguments for a raw-table stack (stack.table): what integritysetup would put in the
 * table for the stack's fields, as the kernel spells it, then the scenario's extra options. The data device
 * comes first and the metadata device is an option, as dm-integrity.rst lists them.
 */
export function integrityTableArgs(s: OpenedIntegrityStack, d: IntegrityDevices): string {
  const opts = [`internal_hash:${kernelHashName(s.hash)}${s.key !== undefined ? `:${s.key}` : ''}`];
  if (s.sectorSize !== 512) opts.push(`block_size:${s.sectorSize}`);
  if (d.meta !== undefined) opts.push(`meta_device:${d.meta}`);
  const numeric: Array<[string, number | undefined]> = [
    ['journal_sectors', s.journalSize !== undefined ? s.journalSize / 512 : undefined], ['interleave_sectors', s.interleaveSectors],
    ['buffer_sectors', s.bufferSectors], ['journal_watermark', s.journalWatermark], ['commit_time', s.journalCommitTime],
    ['sectors_per_bit', s.bitmapSectorsPerBit], ['bitmap_flush_interval', s.bitmapFlushTime],
  ];
  for (const [name, v] of numeric) if (v !== undefined) opts.push(`${name}:${v}`);
  if (s.allowDiscards) opts.push('allow_discards');
  if (s.recalculate) opts.push('recalculate');
  if (s.recalculate === 'reset') opts.push('reset_recalculate');
  if (s.journalIntegrity !== undefined) opts.push(`journal_mac:${kernelHashName(s.journalIntegrity.alg)}:${s.journalIntegrity.key}`);
  if (s.journalCrypt !== undefined) opts.push(`journal_crypt:${s.journalCrypt.alg.replace(/^(\w+)-aes$/, '$1(aes)')}:${s.journalCrypt.key}`);
  opts.push(...(s.table?.options ?? []));
  return `${d.data} 0 ${s.tagSize ?? digestSize(s.hash)} ${MODE_LETTER[s.mode]} ${opts.length} ${opts.join(' ')}`;
}

/**
 * The mode an open step opens in, and the mode later plain opens return to: a named mode other than recovery
 * becomes the stack's from then on; recovery lasts that one open; a plain open takes the stack's.
 */
export function openMode(settled: IntegrityStack['mode'], requested: IntegrityOpenMode | undefined): { mode: IntegrityOpenMode; settled: IntegrityStack['mode'] } {
  if (requested === undefined) return { mode: settled, settled };
  return { mode: requested, settled: requested === 'recovery' ? settled : requested };
}

export function integrityCloseArgv(name: string): string[] {
  return ['integritysetup', 'close', name];
}

/**
 * A dm table (stdin of `dmsetup create|load NAME`) mapping `sectors` of `device` linearly, except the
 * given sector ranges, which the `error` target fails with EIO.
 */
export function lowerTable(device: string, sectors: number, errorRanges: Array<{ start: number; length: number }> = []): string {
  const ranges = [...errorRanges].sort((a, b) => a.start - b.start);
  const lines: string[] = [];
  let at = 0;
  for (const r of ranges) {
    if (r.start < at || r.start + r.length > sectors || r.length <= 0) throw new Error(`error range ${r.start}+${r.length} overlaps or leaves the ${sectors}-sector device`);
    if (r.start > at) lines.push(`${at} ${r.start - at} linear ${device} ${at}`);
    lines.push(`${r.start} ${r.length} error`);
    at = r.start + r.length;
  }
  if (at < sectors) lines.push(`${at} ${sectors - at} linear ${device} ${at}`);
  return lines.join('\n') + '\n';
}

/**
 * A dm-delay table (Documentation/admin-guide/device-mapper/delay.rst, the nine-argument form) holding each
 * read, write and flush to `device` back by its own milliseconds: bios of one class complete after those of
 * a class with a shorter delay that were submitted later. `flushDevice` takes the flushes elsewhere (a fault
 * a test injects: the device's own flushes never reach it).
 */
export function delayTable(device: string, sectors: number, ms: { read: number; write: number; flush: number }, flushDevice = device): string {
  return `0 ${sectors} delay ${device} 0 ${ms.read} ${device} 0 ${ms.write} ${flushDevice} 0 ${ms.flush}\n`;
}

/** Merges sorted, possibly adjacent sector ranges. */
export function mergeRanges(ranges: Array<{ start: number; length: number }>): Array<{ start: number; length: number }> {
  const out: Array<{ start: number; length: number }> = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    if (last && last.start + last.length >= r.start) last.length = Math.max(last.length, r.start + r.length - last.start);
    else out.push({ ...r });
  }
  return out;
}

// The status line is an observation the status judge reads; the stack's cells parse it through the judge's parser.
export { parseIntegrityStatus, type IntegrityStatus } from '../../run/session/status-judge.ts';
