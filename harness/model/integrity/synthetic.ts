/**
 * Builds dm-integrity images with the model itself, the way the kernel would have left them after the
 * device was deactivated: superblock, zeroed journal, tags and data. For tests of the audit and the CLI;
 * real guests' images are the other half of the proof.
 */
import { ModelInputError } from '../errors.ts';
import { integrityGeometry, type IntegrityGeometry } from './geometry.ts';
import { asSuperblock, planIntegrityFormat, type FormatParams } from './format.ts';
import { encodeIntegritySuperblock, type IntegritySuperblock, type IntegritySuperblockFields } from './superblock.ts';
import { DISCARD_FILLER, tagWriter, type IntegrityHash } from './tags.ts';
import type { IntegrityDeviceModel } from './device.ts';

export interface SyntheticImage {
  image: Buffer;
  /** with separateMetadata: the metadata device's image */
  meta?: Buffer;
  sb: IntegritySuperblock;
  geometry: IntegrityGeometry;
}

/** Writes one block's stored data and tag given its plaintext (dm-crypt AEAD encrypts here). */
export type BlockSealer = (logicalSector: number, plaintext: Buffer, dataOut: Buffer, tagOut: Buffer) => void;

export function buildIntegrityImage(p: {
  /** plan the superblock like the kernel's format (no metadata device) ... */
  format?: FormatParams;
  /** ... or give it outright (needed for a separate metadata device) */
  superblock?: IntegritySuperblockFields;
  startSector?: number;
  separateMetadata?: boolean;
  hash?: IntegrityHash;
  key?: Buffer;
  /** instead of hash/key: how to store a block (dm-crypt AEAD) */
  sealer?: (sb: IntegritySuperblock) => BlockSealer;
  /** the history to materialise; unwritten blocks get zeros + a valid tag when model.wiped */
  model?: IntegrityDeviceModel;
}): SyntheticImage {
  const fields = p.superblock ?? (p.format ? planIntegrityFormat({ internalHash: !!p.hash, ...p.format }) : undefined);
  if (!fields) throw new ModelInputError('buildIntegrityImage needs format or superblock');
  const start = p.startSector ?? p.format?.startSector ?? 0;
  const separate = p.separateMetadata ?? false;
  const sb = asSuperblock(fields);
  const geometry = integrityGeometry(sb, { startSector: start, separateMetadata: separate });
  if (p.model && (p.model.providedDataSectors !== sb.providedDataSectors || p.model.sectorsPerBlock !== geometry.sectorsPerBlock)) {
    throw new ModelInputError(
      `model has ${p.model.providedDataSectors} sectors of ${p.model.sectorsPerBlock}-sector blocks, the superblock gives ${sb.providedDataSectors} of ${geometry.sectorsPerBlock}`,
    );
  }
  const deviceBytes = Math.max(geometry.requiredDataBytes, (p.format?.deviceSectors ?? 0) * 512);
  const image = Buffer.alloc(deviceBytes);
  const meta = separate ? Buffer.alloc(geometry.requiredMetaBytes) : undefined;
  encodeIntegritySuperblock(fields).copy(meta ?? image, start * 512);
  const seal = p.sealer ? p.sealer(sb) : hashSealer(p.hash, p.key, sb);
  const zero = Buffer.alloc(geometry.blockSize);
  const wiped = p.model?.wiped ?? true;
  for (let b = 0; b < geometry.blocks; b++) {
    const ls = b * geometry.sectorsPerBlock;
    const state = p.model?.blockExpectation(b).state ?? { kind: 'unwritten' as const };
    const tagAt = geometry.tagByteOffset(ls);
    const dataAt = geometry.dataByteOffset(ls);
    const tagOut = (meta ?? image).subarray(tagAt, tagAt + sb.tagSize);
    if (state.kind === 'discarded') {
      tagOut.fill(DISCARD_FILLER);
      continue;
    }
    if (state.kind === 'unwritten' && !wiped) continue;
    seal(ls, state.kind === 'written' ? state.data : zero, image.subarray(dataAt, dataAt + geometry.blockSize), tagOut);
  }
  return { image, meta, sb, geometry };
}

function hashSealer(hash: IntegrityHash | undefined, key: Buffer | undefined, sb: IntegritySuperblock): BlockSealer {
  if (!hash) throw new ModelInputError('buildIntegrityImage needs hash or sealer');
  const write = tagWriter({ hash, key, salt: sb.fixedHmac ? sb.salt : undefined, tagSize: sb.tagSize });
  return (ls, plaintext, dataOut, tagOut) => {
    plaintext.copy(dataOut);
    write(ls, plaintext, tagOut, 0);
  };
}

/** Flips one byte (xor 0xff) in place: a host-side corruption. */
export function flipByte(image: Buffer, offset: number): void {
  if (offset < 0 || offset >= image.length) throw new ModelInputError(`offset ${offset} outside the image (${image.length} bytes)`);
  image[offset] = image[offset]! ^ 0xff;
}
