/**
 * Load-time checks of a crypt-aead scenario that the schema cannot express: the key fits the cipher, and
 * every I/O, discard and corruption stays inside what the stack provides. The capacity comes from the
 * model's prediction of the dm-integrity format (the runner checks the real superblock against it too).
 * checkAeadSteps() is shared with the luks2 stack (luks-check.ts): the same dm-crypt over dm-integrity.
 */
import { cryptKeyProblems, parseCryptCipher, type CryptAeadCipher } from '../../model/crypt/cipher.ts';
import { planIntegrityFormat } from '../../model/integrity/format.ts';
import { ModelInputError } from '../../model/errors.ts';
import type { CryptAeadStack } from './crypt-schema.ts';
import type { Step } from '../../scenario/schema.ts';

/**
 * Bytes the crypt device offers on a disk of `diskBytes`, as dm-integrity formats it under this stack: the
 * smaller of the two paddings, since the cell asks for fix_padding only where the kernel's target has it.
 */
export function cryptAeadCapacity(stack: CryptAeadStack, diskBytes: number): number {
  const c = parseCryptCipher(stack.cipher);
  const sectors = (fixPadding: boolean) => planIntegrityFormat({
    deviceSectors: diskBytes / 512, tagSize: c.tupleSize, sectorsPerBlock: stack.sectorSize / 512,
    fixPadding, bitmapMode: stack.mode === 'bitmap',
  }).providedDataSectors;
  return Math.min(sectors(true), sectors(false)) * 512;
}

export function checkCryptAeadScenario(stack: CryptAeadStack, steps: Step[], disk: { name: string; size: number } | undefined): string[] {
  const errs: string[] = [];
  const c = parseCryptCipher(stack.cipher);
  if (stack.key !== undefined) errs.push(...cryptKeyProblems(c, Buffer.from(stack.key, 'hex')).map((p) => `stack.key: ${p}`));
  errs.push(...checkStoredIv(c, steps));
  if (disk === undefined || disk.size === 0 || disk.size % 4096 !== 0) return errs;
  let capacity: number;
  try {
    capacity = cryptAeadCapacity(stack, disk.size);
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    return [...errs, `stack.disk: disk '${disk.name}' (${disk.size} bytes) is too small for dm-integrity with ${c.tupleSize}-byte tags`];
  }
  return [...errs, ...checkAeadSteps(steps, { stack: 'crypt-aead', capacity, blockSize: stack.sectorSize, disk, keeps: 'journal and tags' })];
}

/** corrupt.where 'iv' needs an IV in the tuple: plain64 IVs come from the sector number. */
export function checkStoredIv(c: CryptAeadCipher, steps: Step[]): string[] {
  const errs: string[] = [];
  steps.forEach((step, i) => {
    if (typeof step !== 'string' && 'corrupt' in step && step.corrupt.where === 'iv' && c.storedIvSize === 0) {
      errs.push(`steps[${i}].corrupt.where: ${c.spec} stores no IV (${c.ivMode} IVs come from the sector number); use data or tag`);
    }
  });
  return errs;
}

/**
 * Only the steps the AEAD cells run (aead-cell.ts), and every block, I/O and discard inside the `capacity`
 * bytes the stack provides on `disk`.
 */
export function checkAeadSteps(steps: Step[], p: { stack: 'crypt-aead' | 'luks2'; capacity: number; blockSize: number; disk: { name: string; size: number }; keeps: string }): string[] {
  const errs: string[] = [];
  const blocks = p.capacity / p.blockSize;
  const room = `the ${p.capacity} bytes (${blocks} blocks of ${p.blockSize}) the stack provides on the ${p.disk.size}-byte disk '${p.disk.name}'`;
  steps.forEach((step, i) => {
    if (step === 'flush') errs.push(`steps[${i}]: 'flush' is not supported on ${p.stack} stacks yet`);
    // an open in another mode is refused for these stacks by the loader's step walk
    if (typeof step === 'string' || 'open' in step) return;
    // crypt-aead's tables are dm-crypt tables on lower devices of their own (the loader checks them)
    if ('tables' in step && p.stack === 'crypt-aead') return;
    if ('swap' in step || 'corruptSuperblock' in step || 'corruptJournal' in step || 'ioError' in step || 'tables' in step || 'profiles' in step) {
      errs.push(`steps[${i}].${Object.keys(step)[0]}: not supported on ${p.stack} stacks (integrity stacks only)`);
      return;
    }
    if ('crash' in step || 'kill' in step) {
      const [kind, workload] = 'crash' in step ? ['crash', step.crash.workload] as const : ['kill', step.kill.workload] as const;
      workload.forEach((op, j) => {
        if (op !== 'flush' && op.write.offset + op.write.length > p.capacity) errs.push(`steps[${i}].${kind}.workload[${j}].write: ends at ${op.write.offset + op.write.length}, beyond ${room}`);
      });
      return;
    }
    if ('race' in step) {
      if (step.race.offset + step.race.length > p.capacity && step.race.offset + step.race.length <= p.disk.size) errs.push(`steps[${i}].race: ends at ${step.race.offset + step.race.length}, beyond ${room} (the rest holds ${p.keeps})`);
      return;
    }
    if ('unstable' in step) {
      if (step.unstable.offset + step.unstable.length > p.capacity && step.unstable.offset + step.unstable.length <= p.disk.size) errs.push(`steps[${i}].unstable: ends at ${step.unstable.offset + step.unstable.length}, beyond ${room} (the rest holds ${p.keeps})`);
      return;
    }
    if ('corrupt' in step) {
      step.corrupt.blocks.forEach((b, j) => {
        if (b >= blocks) errs.push(`steps[${i}].corrupt.blocks[${j}]: block ${b} is beyond ${room}`);
      });
      return;
    }
    const [kind, r] = 'write' in step ? ['write', step.write] as const : 'read' in step ? ['read', step.read] as const : ['discard', step.discard] as const;
    if ('unaligned' in r) {
      // the AEAD cells issue block-aligned I/O only
      if (r.unaligned) errs.push(`steps[${i}].${kind}.unaligned: not supported on ${p.stack} stacks yet`);
    }
    // beyond the disk itself is the generic loader's message
    if (r.offset + r.length > p.capacity && r.offset + r.length <= p.disk.size) {
      errs.push(`steps[${i}].${kind}: ends at ${r.offset + r.length}, beyond ${room} (the rest holds ${p.keeps})`);
    }
  });
  return errs;
}
