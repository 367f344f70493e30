/**
 * Where the host must flip bytes so that the kernel sees a corrupted block: inside the block's data
 * sectors, or inside its tag bytes in the metadata run (or on the metadata device when there is one).
 */
import { ModelInputError } from '../errors.ts';
import type { IntegrityGeometry } from './geometry.ts';

export function corruptionOffset(geom: IntegrityGeometry, block: number, where: 'data' | 'tag', byteInBlock = 0): number {
  return corruptionTarget(geom, block, where, byteInBlock).offset;
}

/** Like corruptionOffset, and names the image ('meta' only for tags with a separate metadata device). */
export function corruptionTarget(
  geom: IntegrityGeometry,
  block: number,
  where: 'data' | 'tag',
  byteInBlock = 0,
): { image: 'data' | 'meta'; offset: number } {
  if (!Number.isSafeInteger(block) || block < 0 || block >= geom.blocks) {
    throw new ModelInputError(`block ${block} outside the device (0..${geom.blocks - 1})`);
  }
  const limit = where === 'data' ? geom.blockSize : geom.tagSize;
  if (!Number.isSafeInteger(byteInBlock) || byteInBlock < 0 || byteInBlock >= limit) {
    throw new ModelInputError(`byte ${byteInBlock} outside the block's ${where} (0..${limit - 1})`);
  }
  const ls = block * geom.sectorsPerBlock;
  if (where === 'data') {
    // a block's sectors are contiguous: interleave areas are whole multiples of the block
    return { image: 'data', offset: geom.dataByteOffset(ls) + byteInBlock };
  }
  return { image: geom.separateMetadata ? 'meta' : 'data', offset: geom.tagByteOffset(ls) + byteInBlock };
}
