/**
 * cryptsetup argv for the luks2 stack, and how to read the tables cryptsetup loaded. Pure: the runner
 * executes these through the agent. Key files live in the guest's /tmp (written with `tee`: the guest
 * has no /dev/stdin). pbkdf2 with 1000 iterations keeps the key slot cheap under TCG; the harness never
 * needs the key slot anyway, it knows the volume key.
 */
import type { CryptAeadCipher } from '../../model/crypt/cipher.ts';
import { LUKS2_DEFAULT_DATA_OFFSET, luks2HeaderIntegrity, luks2KeySizeBits, type Luks2DataSegment } from '../../model/luks2/segment.ts';
import type { Luks2Stack } from './luks-schema.ts';
import type { Disagreement } from '../../verdict/types.ts';

export const LUKS_NAME = 'ih-luks';
/** cryptsetup names the dm-integrity device under an integrity LUKS2 device <name>_dif */
export const LUKS_INTEGRITY_NAME = `${LUKS_NAME}_dif`;
export const VOLUME_KEY_FILE = '/tmp/ih-luks.vk';
export const PASSPHRASE_FILE = '/tmp/ih-luks.pass';

export function luksFormatArgv(s: Luks2Stack, c: CryptAeadCipher, keyBytes: number, device: string): string[] {
  return [
    'cryptsetup', 'luksFormat', '--batch-mode', '--type', 'luks2',
    '--cipher', s.cipher, '--integrity', s.integrity, '--key-size', String(luks2KeySizeBits(c, keyBytes)),
    '--sector-size', String(s.sectorSize), '--volume-key-file', VOLUME_KEY_FILE,
    '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', PASSPHRASE_FILE,
    ...(s.integrityNoWipe ? ['--integrity-no-wipe'] : []),
    device,
  ];
}

export function luksOpenArgv(device: string, allowDiscards = false): string[] {
  return ['cryptsetup', 'open', '--type', 'luks2', '--key-file', PASSPHRASE_FILE, ...(allowDiscards ? ['--allow-discards'] : []), device, LUKS_NAME];
}

export function luksCloseArgv(): string[] {
  return ['cryptsetup', 'close', LUKS_NAME];
}

/** One line of `dmsetup table <name>`: "<start> <length> <target> <args...>". */
export interface DmTableLine {
  start: number;
  length: number;
  target: string;
  args: string[];
}

export function parseDmTable(text: string): DmTableLine[] {
  return text.trim().split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [start, length, target, ...args] = l.trim().split(/\s+/);
    return { start: Number(start), length: Number(length), target: target ?? '', args };
  });
}

/**
 * How the loaded tables differ from what the model expects cryptsetup to build from the header: one
 * message per difference, empty when they agree. Keys are not compared (cryptsetup passes a keyring
 * reference, `:<bytes>:logon:...`); only their length is.
 */
export function luksTableProblems(
  crypt: DmTableLine[], integrity: DmTableLine[],
  want: { cipher: CryptAeadCipher; keyBytes: number; ivOffset: number; sectorSize: number; sectors: number; dataOffsetSectors: number },
): string[] {
  const out: string[] = [];
  const [c] = crypt;
  const [i] = integrity;
  if (crypt.length !== 1 || c === undefined || c.target !== 'crypt') return [`crypt table: expected one crypt target, got '${crypt.map((l) => l.target).join(', ')}'`];
  if (integrity.length !== 1 || i === undefined || i.target !== 'integrity') return [`integrity table: expected one integrity target, got '${integrity.map((l) => l.target).join(', ')}'`];
  const [spec, key, ivOffset, , offset, , ...copts] = c.args;
  const expect = (what: string, want: string | number, got: string | number | undefined) => {
    if (String(want) !== String(got)) out.push(`${what}: expected ${want}, got ${got ?? '(none)'}`);
  };
  expect('crypt length', want.sectors, c.length);
  expect('crypt cipher', want.cipher.spec, spec);
  const keyLen = key?.startsWith(':') ? Number(key.split(':')[1]) : key !== undefined ? key.length / 2 : undefined;
  expect('crypt key bytes', want.keyBytes, keyLen);
  expect('crypt iv_offset', want.ivOffset, ivOffset);
  expect('crypt offset on dm-integrity', 0, offset);
  if (!copts.includes(`integrity:${want.cipher.tupleSize}:aead`)) out.push(`crypt options: expected integrity:${want.cipher.tupleSize}:aead, got '${copts.join(' ')}'`);
  const sectorOpt = copts.find((o) => o.startsWith('sector_size:'));
  expect('crypt sector_size', want.sectorSize, sectorOpt ? Number(sectorOpt.split(':')[1]) : 512);
  const [, ioffset, tag, mode, , ...iopts] = i.args;
  expect('integrity length', want.sectors, i.length);
  expect('integrity offset on the disk', want.dataOffsetSectors, ioffset);
  expect('integrity tag size', want.cipher.tupleSize, tag);
  expect('integrity mode', 'J', mode);
  if (iopts.some((o) => o.startsWith('internal_hash:'))) out.push(`integrity options: an internal hash under dm-crypt AEAD: '${iopts.join(' ')}'`);
  const bsOpt = iopts.find((o) => o.startsWith('block_size:'));
  expect('integrity block_size', want.sectorSize, bsOpt ? Number(bsOpt.split(':')[1]) : 512);
  return out;
}

/**
 * The tables `dmsetup table` showed of the open LUKS2 stack (crypt on top, dm-integrity beneath) against
 * the stack the model built from the header: one disagreement per difference (step -1: setup).
 */
export function judgeLuksTables(cryptText: string, integrityText: string, want: Parameters<typeof luksTableProblems>[2]): Disagreement[] {
  return luksTableProblems(parseDmTable(cryptText), parseDmTable(integrityText), want)
    .map((p) => ({ step: -1, kind: 'luks2-table', expected: 'the stack the model built from the header', found: p }));
}

/** Format drift in the LUKS2 header: the data segment luksFormat wrote against what it was asked for (step -1: setup). */
export function judgeLuksSegment(seg: Luks2DataSegment, stack: Pick<Luks2Stack, 'cipher' | 'integrity' | 'sectorSize'>, volumeKeyBytes: number): Disagreement[] {
  const out: Disagreement[] = [];
  const d = (what: string, want: string | number, got: string | number | undefined) => {
    if (String(want) !== String(got)) out.push({ step: -1, kind: 'luks2-header', expected: `${what} ${want}`, found: String(got) });
  };
  d('data offset', LUKS2_DEFAULT_DATA_OFFSET, seg.offset);
  d('encryption', stack.cipher, seg.encryption);
  d('integrity', luks2HeaderIntegrity(stack.integrity), seg.integrity);
  d('sector_size', stack.sectorSize, seg.sectorSize);
  d('volume key bytes', volumeKeyBytes, seg.volumeKeyBytes);
  d('size', 'dynamic', seg.size);
  if (seg.offset < seg.keyslotsEnd) d('data offset at or after the key slots area end', seg.keyslotsEnd, seg.offset);
  return out;
}
