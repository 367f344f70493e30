/**
 * Load-time checks of a luks2 scenario: the --cipher / --integrity pair is one the model can follow, the
 * volume key fits it, and every step fits in what dm-integrity leaves after the LUKS2 header (at
 * cryptsetup's default 16 MiB data offset; the runner checks the real header against that).
 */
import { cryptKeyProblems } from '../../model/crypt/cipher.ts';
import { ModelInputError } from '../../model/errors.ts';
import { planLuks2Integrity } from '../../model/luks2/format.ts';
import { LUKS2_DEFAULT_DATA_OFFSET, LUKS2_INTEGRITY_CIPHERS, luks2FormatCipher } from '../../model/luks2/segment.ts';
import { checkAeadSteps, checkStoredIv } from './crypt-check.ts';
import type { Luks2Stack } from './luks-schema.ts';
import type { Step } from '../../scenario/schema.ts';

export function checkLuks2Scenario(stack: Luks2Stack, steps: Step[], disk: { name: string; size: number } | undefined): string[] {
  const c = luks2FormatCipher(stack.cipher, stack.integrity);
  if (c === undefined) {
    const pairs = LUKS2_INTEGRITY_CIPHERS.map((r) => `${r.cipher} with ${r.integrity}`).join(', ');
    return [`stack.integrity: --cipher ${stack.cipher} with --integrity ${stack.integrity} is not a pair the model knows (${pairs})`];
  }
  const errs: string[] = [];
  if (stack.volumeKey !== undefined) {
    errs.push(...cryptKeyProblems(c, Buffer.from(stack.volumeKey, 'hex')).map((p) => `stack.volumeKey: ${p.replace(c.spec, `${stack.cipher} + ${stack.integrity} (${c.spec})`)}`));
  }
  errs.push(...checkStoredIv(c, steps));
  if (disk === undefined || disk.size === 0 || disk.size % 4096 !== 0) return errs;
  let capacity: number;
  try {
    capacity = planLuks2Integrity({ diskBytes: disk.size, tagSize: c.tupleSize, sectorSize: stack.sectorSize }).providedDataSectors * 512;
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    return [...errs, `stack.disk: disk '${disk.name}' (${disk.size} bytes) is too small for the ${LUKS2_DEFAULT_DATA_OFFSET}-byte LUKS2 header area and dm-integrity with ${c.tupleSize}-byte tags`];
  }
  return [...errs, ...checkAeadSteps(steps, { stack: 'luks2', capacity, blockSize: stack.sectorSize, disk, keeps: 'the LUKS2 header, journal and tags' })];
}
