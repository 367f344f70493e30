/**
 * The LUKS2 on-disk header, read from a raw image (cryptsetup's docs/on-disk-format-luks2.pdf, lib/luks2/
 * luks2.h, lib/luks2/luks2_disk_metadata.c). Two copies, primary at 0 and secondary at hdr_size, each:
 *   0 magic[6] "LUKS\xba\xbe" (secondary "SKUL\xba\xbe")   6 version u16 BE (2)   8 hdr_size u64 BE
 *   16 seqid u64 BE   24 label[48]   72 checksum_alg[32]   104 salt[64]   168 uuid[40]   208 subsystem[48]
 *   256 hdr_offset u64 BE   448 csum[64]   4096.. JSON area, NUL-terminated, up to hdr_size
 * The checksum is checksum_alg (sha256) over the whole hdr_size bytes with the csum field zeroed. Like
 * cryptsetup, the copy with the higher seqid among those that verify is the header in force.
 * Key slots are not decrypted: the harness knows the volume key, the model only needs the data segment.
 */
import { createHash } from 'node:crypto';
import { ModelInputError } from '../errors.ts';

export const LUKS2_BINARY_HEADER_BYTES = 4096;
const MAGIC_PRIMARY = Buffer.from('LUKS\xba\xbe', 'latin1');
const MAGIC_SECONDARY = Buffer.from('SKUL\xba\xbe', 'latin1');
/** hdr_size values cryptsetup allows (LUKS2_HDR_16K_LEN .. 4 MiB, powers of two) */
const HDR_SIZES = [16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304];
const CSUM_AT = 448;
const CSUM_BYTES = 64;

export interface Luks2HeaderCopy {
  which: 'primary' | 'secondary';
  hdrSize: number;
  seqid: number;
  label: string;
  checksumAlg: string;
  uuid: string;
  hdrOffset: number;
  checksumOk: boolean;
  json: unknown;
}

export interface Luks2Header {
  /** the copy in force: the verified one with the highest seqid */
  active: Luks2HeaderCopy;
  copies: Luks2HeaderCopy[];
  /** why a copy was not usable (bad magic, checksum, JSON): for reports */
  problems: string[];
}

/** Reads at least `16 KiB * 2` bytes of the image start; `source` names the image in errors. */
export function parseLuks2Header(image: Buffer, source?: string): Luks2Header {
  const problems: string[] = [];
  const copies: Luks2HeaderCopy[] = [];
  const primary = tryCopy(image, 0, 'primary', problems);
  if (primary) copies.push(primary);
  // the secondary sits at the primary's hdr_size; without a readable primary, try every allowed size
  const offsets = primary ? [primary.hdrSize] : HDR_SIZES;
  for (const off of offsets) {
    const c = tryCopy(image, off, 'secondary', off === offsets[0] ? problems : []);
    if (c) { copies.push(c); break; }
  }
  const usable = copies.filter((c) => c.checksumOk && c.json !== undefined);
  if (usable.length === 0) {
    throw new ModelInputError(`no valid LUKS2 header (${problems.join('; ') || 'no copy found'})`, { source });
  }
  const active = usable.reduce((a, b) => (b.seqid > a.seqid ? b : a));
  return { active, copies, problems };
}

function tryCopy(image: Buffer, at: number, which: 'primary' | 'secondary', problems: string[]): Luks2HeaderCopy | undefined {
  const say = (p: string) => { problems.push(`${which} header at ${at}: ${p}`); return undefined; };
  if (image.length < at + LUKS2_BINARY_HEADER_BYTES) return say(`image ends at ${image.length} bytes`);
  const magic = image.subarray(at, at + 6);
  if (!magic.equals(which === 'primary' ? MAGIC_PRIMARY : MAGIC_SECONDARY)) return say(`magic is ${magic.toString('hex')}, not a LUKS2 header`);
  const version = image.readUInt16BE(at + 6);
  if (version !== 2) return say(`version ${version}, expected 2`);
  const hdrSize = Number(image.readBigUInt64BE(at + 8));
  if (!HDR_SIZES.includes(hdrSize)) return say(`hdr_size ${hdrSize} is not one cryptsetup writes`);
  if (image.length < at + hdrSize) return say(`image ends at ${image.length}, the header needs ${at + hdrSize}`);
  const hdr = image.subarray(at, at + hdrSize);
  const checksumAlg = cstr(hdr.subarray(72, 104));
  const copy: Luks2HeaderCopy = {
    which, hdrSize,
    seqid: Number(hdr.readBigUInt64BE(16)),
    label: cstr(hdr.subarray(24, 72)),
    checksumAlg,
    uuid: cstr(hdr.subarray(168, 208)),
    hdrOffset: Number(hdr.readBigUInt64BE(256)),
    checksumOk: false,
    json: undefined,
  };
  if (copy.hdrOffset !== at) say(`hdr_offset field says ${copy.hdrOffset}`);
  if (checksumAlg !== 'sha256') {
    say(`checksum algorithm ${JSON.stringify(checksumAlg)} is not sha256`);
    return copy;
  }
  const zeroed = Buffer.from(hdr);
  zeroed.fill(0, CSUM_AT, CSUM_AT + CSUM_BYTES);
  const want = createHash('sha256').update(zeroed).digest();
  copy.checksumOk = want.equals(hdr.subarray(CSUM_AT, CSUM_AT + want.length));
  if (!copy.checksumOk) {
    say('checksum does not match');
    return copy;
  }
  const area = hdr.subarray(LUKS2_BINARY_HEADER_BYTES);
  const end = area.indexOf(0);
  try {
    copy.json = JSON.parse(area.subarray(0, end < 0 ? area.length : end).toString('utf8'));
  } catch (e) {
    say(`JSON area does not parse: ${(e as Error).message}`);
  }
  return copy;
}

function cstr(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end < 0 ? b.length : end).toString('latin1');
}
