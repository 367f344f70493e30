/**
 * Load-time checks of a crypt-aead scenario that the schema cannot express: the key fits the cipher, and
 * every I/O and corruption stays inside what the stack provides. The capacity comes from the model's
 * prediction of the dm-integrity format (the runner checks the real superblock against it too).
 */
import { cryptKeyProblems, parseCryptCipher } from '../model/crypt/cipher.ts';
import { planIntegrityFormat } from '../model/integrity/format.ts';
import { ModelInputError } from '../model/errors.ts';
import type { CryptAeadStack } from './crypt-schema.ts';
import type { Step } from './schema.ts';

/** Bytes the crypt device offers on a disk of `diskBytes`, as dm-integrity formats it under this stack. */
export function cryptAeadCapacity(stack: CryptAeadStack, diskBytes: number): number {
  const c = parseCryptCipher(stack.cipher);
  const f = planIntegrityFormat({
    deviceSectors: diskBytes / 512, tagSize: c.tupleSize, sectorsPerBlock: stack.sectorSize / 512,
    fixPadding: true, bitmapMode: stack.mode === 'bitmap',
  });
  return f.providedDataSectors * 512;
}

export function checkCryptAeadScenario(stack: CryptAeadStack, steps: Step[], disk: { name: string; size: number } | undefined): string[] {
  const errs: string[] = [];
  const c = parseCryptCipher(stack.cipher);
  if (stack.key !== undefined) errs.push(...cryptKeyProblems(c, Buffer.from(stack.key, 'hex')).map((p) => `stack.key: ${p}`));
  if (disk === undefined || disk.size === 0 || disk.size % 4096 !== 0) return errs;
  let capacity: number;
  try {
    capacity = cryptAeadCapacity(stack, disk.size);
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    return [...errs, `stack.disk: disk '${disk.name}' (${disk.size} bytes) is too small for dm-integrity with ${c.tupleSize}-byte tags`];
  }
  const blocks = capacity / stack.sectorSize;
  const room = `the ${capacity} bytes (${blocks} blocks of ${stack.sectorSize}) the stack provides on the ${disk.size}-byte disk '${disk.name}'`;
  steps.forEach((step, i) => {
    if (step === 'flush') errs.push(`steps[${i}]: 'flush' is not supported on crypt-aead stacks yet`);
    if (typeof step === 'string') return;
    if ('discard' in step || 'crash' in step || 'swap' in step || 'corruptSuperblock' in step || 'corruptJournal' in step || 'ioError' in step) {
      errs.push(`steps[${i}].${Object.keys(step)[0]}: not supported on crypt-aead stacks (integrity stacks only)`);
      return;
    }
    if ('corrupt' in step) {
      step.corrupt.blocks.forEach((b, j) => {
        if (b >= blocks) errs.push(`steps[${i}].corrupt.blocks[${j}]: block ${b} is beyond ${room}`);
      });
      return;
    }
    const [kind, r] = 'write' in step ? ['write', step.write] as const : ['read', step.read] as const;
    if (r.offset + r.length > capacity && r.offset + r.length <= disk.size) {
      errs.push(`steps[${i}].${kind}: ends at ${r.offset + r.length}, beyond ${room} (dm-integrity keeps the rest for journal and tags)`);
    }
  });
  return errs;
}
