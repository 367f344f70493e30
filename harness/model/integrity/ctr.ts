/**
 * Whether dm_integrity_ctr() accepts a table line, and if not the ti->error it logs ("device-mapper: table:
 * <dev>: integrity: <error> (-<errno>)") and the errno dmsetup gets. The checks run in the kernel's order
 * (drivers/md/dm-integrity.c, 6.1.192 and upstream; per-kernel differences in ctr-kernel.ts), so the first
 * failing one names the error. For an accepted table it says what the ctr leaves on the device: on an
 * all-zero superblock area it formats (the superblock the format plan predicts; written unless mode R),
 * otherwise it keeps the superblock it found.
 *
 * Not modelled (ModelInputError): inline mode's integrity profiles beyond "the lower device has none",
 * superblock MACs other than hmac(sha*), allocation failures, journals near the guest's memory size.
 */
import { createHmac } from 'node:crypto';
import { ModelInputError } from '../errors.ts';
import { cipherAlg, hashAlg, type HashAlg } from './ctr-algs.ts';
import { refuse, scanCtrArgs, type AlgSpec, type CtrArgs, type CtrRefusal } from './ctr-args.ts';
import type { CtrKernel } from './ctr-kernel.ts';
import { DeviceTooSmall, planIntegrityFormat, providedDataSectors } from './format.ts';
import { journalLayout } from './geometry.ts';
import { SB_BYTES, SB_FLAG, SB_MAGIC, SB_SECTORS, MIN_LOG2_INTERLEAVE_SECTORS, MAX_LOG2_INTERLEAVE_SECTORS, type IntegritySuperblockFields } from './superblock.ts';

export type { CtrRefusal } from './ctr-args.ts';

export interface CtrDevice {
  /** size in 512-byte sectors */
  sectors: number;
  /** the 4 KiB at this sector, or 'eio' when the device fails the read */
  read(sector: number): Buffer | 'eio';
}

export interface CtrEnv {
  kernel: CtrKernel;
  /** the table line's length (ti->len), in sectors */
  length: number;
  /** a block device by the path the table names; undefined when there is none */
  device(path: string): CtrDevice | undefined;
  /** the guest's memory in 4 KiB pages (create_journal() refuses a journal that does not fit) */
  ramPages: number;
}

export interface CtrAccepted {
  ok: true;
  /** the ctr formats: the superblock area was all zeros (the kernel writes it unless mode R) */
  formats: boolean;
  /** the ctr writes the superblock it formatted (not in mode R, which formats in memory only) */
  writesSuperblock: boolean;
  /** the superblock in effect after the ctr: predicted when it formats, else the one found (as parsed) */
  superblock: IntegritySuperblockFields;
  /** provided_data_sectors the target serves (the device may have grown since the superblock was written) */
  providedDataSectors: number;
  mode: string;
  tagSize: number;
  sectorsPerBlock: number;
  internalHash: AlgSpec | undefined;
  metaDevice: string | undefined;
  flags: ReadonlySet<string>;
}

export type CtrOutcome = CtrAccepted | CtrRefusal;

/** Splits a table's integrity arguments like the dm core does for tables without escapes. */
export function splitTableArgs(line: string): string[] {
  if (line.includes('\\')) throw new ModelInputError(`table '${line}': backslash escapes are not modelled`);
  return line.trim().split(/\s+/).filter(Boolean);
}

interface Settings {
  journalSectors: number;
  interleaveSectors: number;
  bufferSectors: number;
  sectorsPerBlock: number;
  log2SectorsPerBit: number | undefined;
  internalHash: AlgSpec | undefined;
  journalCrypt: AlgSpec | undefined;
  journalMac: AlgSpec | undefined;
  metaDevice: string | undefined;
  flags: Set<string>;
}

function settingsOf(a: CtrArgs): Settings {
  const s: Settings = {
    journalSectors: 0, interleaveSectors: 32768, bufferSectors: 128, sectorsPerBlock: 1, log2SectorsPerBit: undefined,
    internalHash: undefined, journalCrypt: undefined, journalMac: undefined, metaDevice: undefined, flags: new Set(),
  };
  for (const o of a.options) {
    switch (o.kind) {
      case 'journal_sectors': s.journalSectors = o.value || 1; break;
      case 'interleave_sectors': s.interleaveSectors = o.value; break;
      case 'buffer_sectors': s.bufferSectors = o.value; break;
      case 'block_size': s.sectorsPerBlock = o.value / 512; break;
      case 'sectors_per_bit': s.log2SectorsPerBit = o.value === 0n ? 0 : o.value.toString(2).length - 1; break;
      case 'internal_hash': s.internalHash = o.spec; break;
      case 'journal_crypt': s.journalCrypt = o.spec; break;
      case 'journal_mac': s.journalMac = o.spec; break;
      case 'meta_device': s.metaDevice = o.path; break;
      case 'flag': s.flags.add(o.name); break;
      default: break;
    }
  }
  return s;
}

/** get_mac(): allocate the hash, then set the key the table gives, or insist on one when the hash needs it. */
function macCheck(spec: AlgSpec | undefined, errAlg: string, errKey: string, at: string): { hash: HashAlg | undefined } | CtrRefusal {
  if (spec === undefined) return { hash: undefined };
  const h = hashAlg(spec.alg);
  if (h === undefined) return refuse(errAlg, at, 'ENOENT');
  if (spec.key !== undefined) {
    const r = h.setkey(spec.key.length);
    if (r !== 0) return refuse(errKey, at, r);
  } else if (h.needsKey) {
    return refuse(errKey, at, 'ENOKEY');
  }
  return { hash: h };
}

function fields(sb: Buffer): IntegritySuperblockFields {
  return {
    version: sb.readUInt8(8), log2InterleaveSectors: sb.readUInt8(9), tagSize: sb.readUInt16LE(10), journalSections: sb.readUInt32LE(12),
    providedDataSectors: Number(sb.readBigUInt64LE(16)), flags: sb.readUInt32LE(24), log2SectorsPerBlock: sb.readUInt8(28),
    log2BlocksPerBitmapBit: sb.readUInt8(29), recalcSector: Number(sb.readBigUInt64LE(32)), salt: Buffer.from(sb.subarray(48, 64)),
  };
}

export function expectCtr(line: string, env: CtrEnv): CtrOutcome {
  const k = env.kernel;
  const argv = splitTableArgs(line);
  const a = scanCtrArgs(argv, k, (p) => env.device(p) !== undefined);
  if ('ok' in a) return a;
  const s = settingsOf(a);
  const data = env.device(a.device)!;
  const meta = s.metaDevice !== undefined ? env.device(s.metaDevice)! : undefined;
  const metaSectors = meta?.sectors ?? data.sectors;
  const journalSectors = s.journalSectors || Math.min(131072, Math.floor(data.sectors / 2 ** 7));
  const log2Buffer = Math.min(Math.floor(Math.log2(s.bufferSectors || 1)), 22);

  const ih = macCheck(s.internalHash, 'Invalid internal hash', 'Error setting internal hash key', 'internal_hash');
  if ('ok' in ih) return ih;
  const jm = macCheck(s.journalMac, 'Invalid journal mac', 'Error setting journal mac key', 'journal_mac');
  if ('ok' in jm) return jm;
  let tagSize = a.tagSize;
  if (tagSize === undefined) {
    if (ih.hash === undefined) return refuse('Unknown tag size', '-');
    tagSize = ih.hash.digestSize;
  }
  if (tagSize > k.maxTagSize) return refuse('Too big tag size', String(tagSize));
  if (a.mode === 'I') {
    if (meta) return refuse('Metadata device not supported in inline mode', 'meta_device');
    if (!s.internalHash) return refuse('Internal hash not set in inline mode', 'I');
    if (s.journalCrypt || s.journalMac) return refuse('Journal crypt not supported in inline mode', 'I');
    if (s.flags.has('allow_discards')) return refuse('Discards not supported in inline mode', 'allow_discards');
    // the harness's lower devices (virtio disks, dm-linear, dm-error) carry no integrity profile
    return refuse('Integrity profile not supported', a.device);
  }
  if (a.mode === 'B' && !ih.hash) return refuse('Bitmap mode can be only used with internal hash', 'B');
  if (s.flags.has('allow_discards') && !ih.hash) return refuse('Discard can be only used with internal hash', 'allow_discards');

  // sync_rw_sb(READ) on the metadata device (else the data device) at the table's offset
  const sbDev = meta ?? data;
  const area = a.start + SB_SECTORS > sbDev.sectors ? 'eio' : sbDev.read(a.start);
  if (area === 'eio') return refuse('Error reading superblock', `offset ${a.start}`, 'EIO');
  if (area.length < SB_BYTES) throw new ModelInputError(`superblock area is ${area.length} bytes, need ${SB_BYTES}`);
  if (a.mode !== 'R' && jm.hash && area.readUInt32LE(24) & SB_FLAG.FIXED_HMAC && !superblockMacOk(area, s.journalMac!, jm.hash)) {
    return refuse('Error reading superblock', 'journal_mac', 'EILSEQ');
  }
  const recalc = s.flags.has('recalculate') || s.flags.has('reset_recalculate');
  let sb: IntegritySuperblockFields;
  let formats = false;
  if (!area.subarray(0, 8).equals(SB_MAGIC)) {
    if (a.mode !== 'R' && !area.every((b) => b === 0)) return refuse('The device is not initialized', a.device);
    try {
      sb = planIntegrityFormat({
        deviceSectors: data.sectors, ...(meta ? { metaDeviceSectors: meta.sectors } : {}), bufferSectors: 2 ** log2Buffer, startSector: a.start,
        tagSize, sectorsPerBlock: s.sectorsPerBlock, interleaveSectors: s.interleaveSectors, journalSectors,
        fixPadding: s.flags.has('fix_padding'), fixHmac: s.flags.has('fix_hmac'), internalHash: !!s.internalHash, journalMac: !!s.journalMac,
        bitmapMode: a.mode === 'B', recalculate: recalc,
        ...(s.log2SectorsPerBit !== undefined ? { log2SectorsPerBitmapBit: Math.max(s.log2SectorsPerBit, Math.log2(s.sectorsPerBlock)) } : {}),
      });
    } catch (e) {
      if (e instanceof DeviceTooSmall) return refuse('Could not initialize superblock', a.device);
      throw e;
    }
    formats = true;
  } else {
    sb = fields(area);
  }
  return afterSuperblock(a, s, env, { sb, formats, tagSize, data: data.sectors, meta: meta?.sectors, metaSectors, log2Buffer, journalSectors, ih: ih.hash });
}

interface Found {
  sb: IntegritySuperblockFields;
  formats: boolean;
  tagSize: number;
  data: number;
  meta: number | undefined;
  metaSectors: number;
  log2Buffer: number;
  journalSectors: number;
  ih: HashAlg | undefined;
}

/** The checks of the superblock in effect, the device limits, recalculation and create_journal(). */
function afterSuperblock(a: CtrArgs, s: Settings, env: CtrEnv, f: Found): CtrOutcome {
  const k = env.kernel;
  const sb = f.sb;
  if (!sb.version || sb.version > k.maxSuperblockVersion) return refuse('Unknown version', `version ${sb.version}`);
  if (k.inline && !!(sb.flags & SB_FLAG.INLINE) !== (a.mode === 'I')) return refuse('Inline flag mismatch', a.mode);
  if (sb.tagSize !== f.tagSize) return refuse("Tag size doesn't match the information in superblock", String(f.tagSize));
  if (sb.log2SectorsPerBlock !== Math.log2(s.sectorsPerBlock)) return refuse("Block size doesn't match the information in superblock", `block_size:${s.sectorsPerBlock * 512}`);
  if (!sb.journalSections) return refuse('Corrupted superblock, journal_sections is 0', a.device);
  const li = sb.log2InterleaveSectors;
  if (f.meta !== undefined ? li !== 0 : li < MIN_LOG2_INTERLEAVE_SECTORS || li > MAX_LOG2_INTERLEAVE_SECTORS) {
    return refuse('Invalid interleave_sectors in the superblock', `log2 ${li}`);
  }
  if (!!(sb.flags & SB_FLAG.HAVE_JOURNAL_MAC) !== !!s.journalMac) return refuse('Journal mac mismatch', 'journal_mac');
  const j = journalLayout({ tagSize: sb.tagSize, log2SectorsPerBlock: sb.log2SectorsPerBlock, haveJournalMac: !!(sb.flags & SB_FLAG.HAVE_JOURNAL_MAC) });
  const initial = SB_SECTORS + j.sectionSectors * sb.journalSections;
  const spb = 2 ** sb.log2SectorsPerBlock;
  let provided: number;
  if (f.meta === undefined) {
    provided = initial > 2 ** 32 - 1 ? 0 : providedDataSectors(sb, f.data, a.start);
    if (!provided) return refuse('The device is too small', a.device);
  } else {
    provided = Math.floor(f.data / spb) * spb;
    if (!provided) return refuse('The device is too small', a.device);
    if (!metaFits(initial, provided / spb * sb.tagSize, f.metaSectors, f.log2Buffer)) return refuse('The device is too small', s.metaDevice!);
  }
  if (env.length > provided) return refuse('Not enough provided sectors for requested mapping size', `length ${env.length}`);
  let flags = sb.flags;
  const recalc = s.flags.has('recalculate') || s.flags.has('reset_recalculate');
  if (recalc && !(flags & SB_FLAG.RECALCULATING)) flags |= SB_FLAG.RECALCULATING;
  const recalcSector = recalc && !(sb.flags & SB_FLAG.RECALCULATING) ? 0 : sb.recalcSector;
  if (!f.ih && flags & SB_FLAG.RECALCULATING) return refuse('Recalculate can only be specified with internal_hash', 'recalculate');
  if (flags & SB_FLAG.RECALCULATING && recalcSector < provided && recalculationDisabled(s, flags)) {
    return refuse('Recalculating with HMAC is disabled for security reasons - if you really need it, use the argument "legacy_recalculate"', 'recalculate', 'EOPNOTSUPP');
  }
  if (a.mode !== 'R') {
    const journal = journalCheck(s, env, j.sectionSectors * sb.journalSections);
    if (journal) return journal;
  }
  const superblock: IntegritySuperblockFields = { ...sb, flags, recalcSector };
  return {
    ok: true, formats: f.formats, writesSuperblock: f.formats && a.mode !== 'R', superblock, providedDataSectors: provided, mode: a.mode,
    tagSize: f.tagSize, sectorsPerBlock: s.sectorsPerBlock, internalHash: s.internalHash, metaDevice: s.metaDevice, flags: s.flags,
  };
}

/**
 * sb_mac() on read: with fix_hmac the superblock's first sector ends with the journal MAC of what precedes it.
 * Only the hmac(sha*) MACs are modelled.
 */
function superblockMacOk(area: Buffer, spec: AlgSpec, h: HashAlg): boolean {
  const m = spec.alg.match(/^hmac\((sha1|sha256|sha512)\)$/);
  if (!m || spec.key === undefined) throw new ModelInputError(`the superblock MAC with journal_mac '${spec.alg}' is not modelled`);
  const at = 512 - h.digestSize;
  return createHmac(m[1]!, spec.key).update(area.subarray(0, at)).digest().equals(area.subarray(at, 512));
}

/** calculate_device_limits() with a metadata device, retried with smaller buffers down to 8 sectors. */
function metaFits(initial: number, tagBytes: number, metaSectors: number, log2Buffer: number): boolean {
  if (initial + 8 >= metaSectors || initial > 2 ** 32 - 1) return false;
  for (let l = log2Buffer; ; l--) {
    const metaSize = Math.ceil(tagBytes / 2 ** (l + 9)) * 2 ** l;
    if (initial + metaSize <= metaSectors) return true;
    if (l <= 3) return false;
  }
}

/** dm_integrity_disable_recalculate(): keyed tags are not recalculated unless legacy_recalculate says so. */
function recalculationDisabled(s: Settings, flags: number): boolean {
  if (s.flags.has('legacy_recalculate')) return false;
  const ik = s.internalHash?.key !== undefined;
  const jk = s.journalMac?.key !== undefined;
  return !(flags & SB_FLAG.FIXED_HMAC) ? ik || jk : ik && !jk;
}

/** create_journal(): the journal must fit in memory; the cipher must exist, take its key, and encrypt. */
function journalCheck(s: Settings, env: CtrEnv, journalSectors: number): CtrRefusal | undefined {
  const pages = Math.ceil(journalSectors / 8);
  if (pages >= env.ramPages) return refuse("Journal doesn't fit into memory", 'journal_sectors', 'ENOMEM');
  if (pages >= env.ramPages / 4) throw new ModelInputError(`a journal of ${pages} pages in a guest of ${env.ramPages} pages may or may not be allocated; not modelled`);
  const c = s.journalCrypt;
  if (c === undefined) return undefined;
  const alg = cipherAlg(c.alg);
  if (alg === undefined) return refuse('Invalid journal cipher', 'journal_crypt', 'ENOENT');
  if (c.key !== undefined && !alg.keyBytes.includes(c.key.length)) return refuse('Error setting encryption key', 'journal_crypt');
  // a cipher that needs a key and got none fails its first encryption (do_crypt(): -ENOKEY)
  if (c.key === undefined) return refuse(alg.stream ? 'Unable to encrypt journal' : 'Unable to generate iv', 'journal_crypt', 'ENOKEY');
  return undefined;
}
