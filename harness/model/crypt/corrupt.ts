/**
 * Where the host flips a byte to corrupt one crypt sector: its ciphertext, its auth tag, or its IV (the
 * last two live in the block's dm-integrity tag slot, see tupleLayout()).
 */
import { corruptionTarget } from '../integrity/corrupt.ts';
import type { IntegrityGeometry } from '../integrity/geometry.ts';
import type { CryptAeadCipher } from './cipher.ts';
import { tupleLayout } from './verifier.ts';

export type CryptCorruption = 'data' | 'tag' | 'iv';

export function cryptCorruptionOffset(geom: IntegrityGeometry, c: CryptAeadCipher, block: number, where: CryptCorruption): number {
  if (where === 'data') return corruptionTarget(geom, block, 'data').offset;
  const l = tupleLayout(c);
  return corruptionTarget(geom, block, 'tag', where === 'tag' ? l.authTag : l.iv).offset;
}
