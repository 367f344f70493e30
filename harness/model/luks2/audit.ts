/**
 * `npm run audit` on a LUKS2 --integrity image: everything but the volume key comes from the header in force
 * (data segment offset = where dm-integrity's superblock is, cipher + integrity -> the dm-crypt AEAD spec,
 * sector_size, iv_tweak), as `cryptsetup open` would build the stack.
 */
import { readFileSync } from 'node:fs';
import { ModelInputError } from '../errors.ts';
import { openImage } from '../image-source.ts';
import { cryptAeadVerifier } from '../crypt/verifier.ts';
import { auditIntegrityImage, type IntegrityAuditParams, type IntegrityAuditReport } from '../integrity/audit.ts';
import { LUKS2_BINARY_HEADER_BYTES, parseLuks2Header } from './header.ts';
import { luks2DataSegment, luks2SegmentCipher } from './segment.ts';

const LUKS2_MAGIC = Buffer.from('LUKS\xba\xbe', 'latin1');
/** two copies of the largest header cryptsetup writes (4 MiB each) */
const MAX_HEADERS_BYTES = 8 << 20;

export interface Luks2AuditInfo {
  uuid: string;
  /** the data segment: byte offset (the dm-integrity target's start), cipher as in the header */
  segmentOffset: number;
  encryption: string;
  integrity: string;
  sectorSize: number;
  ivTweak: number;
  /** the dm-crypt spec `cryptsetup open` gives the kernel */
  cryptSpec: string;
}

export type Luks2AuditReport = IntegrityAuditReport & { luks2: Luks2AuditInfo };

/** Whether the image starts with a LUKS2 primary header (LUKS1 has the same magic and version 1). */
export function looksLikeLuks2(image: Buffer | string): boolean {
  const src = openImage(image);
  try {
    if (src.length < 8) return false;
    const head = src.read(0, 8);
    return head.subarray(0, 6).equals(LUKS2_MAGIC) && head.readUInt16BE(6) === 2;
  } finally {
    src.close();
  }
}

/** The volume key from --key (hex) or --volume-key-file (raw bytes, as cryptsetup reads it): exactly one. */
export function volumeKey(o: { key?: string; volumeKeyFile?: string }): Buffer | undefined {
  if (o.key !== undefined && o.volumeKeyFile !== undefined) throw new ModelInputError('--key and --volume-key-file are exclusive: give the key once');
  if (o.volumeKeyFile !== undefined) {
    try {
      return readFileSync(o.volumeKeyFile);
    } catch (cause) {
      throw new ModelInputError(`cannot read the volume key (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { source: o.volumeKeyFile, cause });
    }
  }
  if (o.key === undefined) return undefined;
  if (!/^([0-9a-fA-F]{2})+$/.test(o.key)) throw new ModelInputError(`--key must be an even-length hex string, got '${o.key}'`);
  return Buffer.from(o.key, 'hex');
}

export function auditLuks2Image(
  image: Buffer | string,
  key: Buffer,
  p: Pick<IntegrityAuditParams, 'wiped' | 'maxDisagreements' | 'expected'> = {},
): Luks2AuditReport {
  const name = typeof image === 'string' ? image : 'buffer';
  const src = openImage(image);
  let head: Buffer;
  try {
    const first = src.read(0, Math.min(src.length, LUKS2_BINARY_HEADER_BYTES));
    const hdrSize = first.length >= 16 ? Number(first.readBigUInt64BE(8)) : 0;
    // both copies when hdr_size is sane, else as much as any header could need (parseLuks2Header says why)
    const want = hdrSize > 0 && hdrSize <= MAX_HEADERS_BYTES / 2 ? 2 * hdrSize : MAX_HEADERS_BYTES;
    head = Buffer.from(src.read(0, Math.min(src.length, want)));
  } finally {
    src.close();
  }
  const header = parseLuks2Header(head, name);
  const seg = luks2DataSegment(header.active.json, name);
  const cipher = luks2SegmentCipher(seg, name);
  if (key.length !== seg.volumeKeyBytes) {
    throw new ModelInputError(`the volume key is ${key.length} bytes, the header's key slots hold ${seg.volumeKeyBytes}-byte keys`, { source: name });
  }
  if (seg.offset % 512) throw new ModelInputError(`LUKS2 data segment offset ${seg.offset} is not a multiple of 512`, { source: name });
  const report = auditIntegrityImage(image, {
    ...p,
    verifier: cryptAeadVerifier({ cipher, key, sectorSize: seg.sectorSize, ivOffsetSectors: seg.ivTweak }),
    startSector: seg.offset / 512,
  });
  return {
    ...report,
    luks2: {
      uuid: header.active.uuid,
      segmentOffset: seg.offset,
      encryption: seg.encryption,
      integrity: seg.integrity ?? 'none',
      sectorSize: seg.sectorSize,
      ivTweak: seg.ivTweak,
      cryptSpec: cipher.spec,
    },
  };
}
