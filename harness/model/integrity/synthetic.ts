/**
 * Builds dm-integrity images with the model itself, the way the kernel would have left them after the
 * device was deactivated: superblock, zeroed journal, tags and data. For tests of the audit and the CLI;
 * real guests' images are the other half of the proof.
 */
import { ModelInputError } from '../errors.ts';
import { integrityGeometry, type IntegrityGeometry } from './geometry.ts';
import { asSuperblock, planIntegrityFormat, type FormatParams } from './format.ts';
import { encodeIntegritySuperblock, type IntegritySuperblock } from './superblock.ts';
import { DISCARD_FILLER, tagWriter, type IntegrityHash } from './tags.ts';
import type { IntegrityDeviceModel } from './device.ts';

export interface SyntheticImage {
  image: Buffer;
  sb: IntegritySuperblock;
  geometry: IntegrityGeometry;
}

export function buildIntegrityImage(p: {
  format: FormatParams;
  hash: IntegrityHash;
  key?: Buffer;
  /** the history to materialise; unwritten blocks get zeros + a valid tag when model.wiped */
  model?: IntegrityDeviceModel;
}): SyntheticImage {
  const fields = planIntegrityFormat({ internalHash: true, ...p.format });
  const sb = asSuperblock(fields);
  const geometry = integrityGeometry(sb, { startSector: p.format.startSector ?? 0 });
  if (p.model && (p.model.providedDataSectors !== sb.providedDataSectors || p.model.sectorsPerBlock !== geometry.sectorsPerBlock)) {
    throw new ModelInputError(
      `model has ${p.model.providedDataSectors} sectors of ${p.model.sectorsPerBlock}-sector blocks, the format gives ${sb.providedDataSectors} of ${geometry.sectorsPerBlock}`,
    );
  }
  const image = Buffer.alloc(p.format.deviceSectors * 512);
  encodeIntegritySuperblock(fields).copy(image, geometry.startSector * 512);
  const write = tagWriter({ hash: p.hash, key: p.key, salt: sb.fixedHmac ? sb.salt : undefined, tagSize: sb.tagSize });
  const zero = Buffer.alloc(geometry.blockSize);
  const wiped = p.model?.wiped ?? true;
  for (let b = 0; b < geometry.blocks; b++) {
    const ls = b * geometry.sectorsPerBlock;
    const state = p.model?.blockExpectation(b).state ?? { kind: 'unwritten' as const };
    const tagAt = geometry.tagByteOffset(ls);
    if (state.kind === 'discarded') {
      image.fill(DISCARD_FILLER, tagAt, tagAt + sb.tagSize);
      continue;
    }
    if (state.kind === 'unwritten' && !wiped) continue;
    const data = state.kind === 'written' ? state.data : zero;
    data.copy(image, geometry.dataByteOffset(ls));
    write(ls, data, image, tagAt);
  }
  return { image, sb, geometry };
}
