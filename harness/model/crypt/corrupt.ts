/**
 * Where the host flips a byte to corrupt one crypt sector: its ciphertext, its auth tag, or its stored IV
 * (the last two live in the block's dm-integrity tag slot, see tupleLayout()).
 */
import { ModelInputError } from '../errors.ts';
import { corruptionTarget } from '../integrity/corrupt.ts';
import type { IntegrityGeometry } from '../integrity/geometry.ts';
import type { CryptAeadCipher } from './cipher.ts';
import { tupleLayout } from './verifier.ts';

export type CryptCorruption = 'data' | 'tag' | 'iv';

export function cryptCorruptionOffset(geom: IntegrityGeometry, c: CryptAeadCipher, block: number, where: CryptCorruption): number {
  if (where === 'data') return corruptionTarget(geom, block, 'data').offset;
  const l = tupleLayout(c);
  if (where === 'iv' && c.storedIvSize === 0) throw new ModelInputError(`${c.spec} stores no IV (${c.ivMode} IVs come from the sector number): corrupt data or tag`);
  return corruptionTarget(geom, block, 'tag', where === 'tag' ? l.authTag : l.iv).offset;
}
