/**
 * How the audit decides whether one block's tag verifies. dm-integrity with an internal hash recomputes
 * the tag; a dm-crypt AEAD stack (no internal hash) authenticates the tuple stored in the tag slot.
 */
import { crc32cRunVerifier } from './crc32c-run.ts';
import { tagWriter, type IntegrityHash } from './tags.ts';

export interface BlockVerifier {
  /** whether the kernel would accept this block (data and tag bytes as found on disk) */
  verify(logicalSector: number, data: Buffer, tag: Buffer): boolean;
  /** the bytes a read returns when the block verifies: the data itself, or the decrypted plaintext */
  plaintext(logicalSector: number, data: Buffer, tag: Buffer): Buffer;
  /** for reports: the tag the kernel would have written for this data, when it is determined by it */
  expectedTag(logicalSector: number, data: Buffer): Buffer | undefined;
  /**
   * Optional, for speed: whether all `n` consecutive blocks from `firstSector` (data and tags back to back)
   * verify, decided for the run at once. true only when verify() would accept every one of them; false
   * means "some may not": the audit then asks block by block.
   */
  verifyRun?(firstSector: number, data: Buffer, tags: Buffer, n: number): boolean;
  /** Optional, with verifyRun: the plaintext of a run that verified, back to back (default: the data). */
  plaintextRun?(firstSector: number, data: Buffer, tags: Buffer, n: number): Buffer;
  /**
   * Optional, with verifyRun: where to read runs of up to n blocks, for a verifyRun that would otherwise copy
   * them (gcm(aes) works in WebAssembly memory). Valid until a run of more than n blocks.
   */
  runBuffers?(n: number): { data: Buffer; tags: Buffer };
}

export function internalHashVerifier(p: { hash: IntegrityHash; key?: Buffer; salt?: Buffer; tagSize: number; blockSize?: number }): BlockVerifier {
  const write = tagWriter(p);
  const scratch = Buffer.alloc(p.tagSize);
  const bs = p.blockSize ?? 512;
  const run = p.hash === 'crc32c' ? crc32cRunVerifier({ blockSize: bs, tagSize: p.tagSize, ...(p.salt ? { salt: p.salt } : {}) }) : undefined;
  return {
    verify(ls, data, tag) {
      write(ls, data, scratch, 0);
      return scratch.equals(tag);
    },
    plaintext: (_ls, data) => data,
    expectedTag(ls, data) {
      const out = Buffer.alloc(p.tagSize);
      write(ls, data, out, 0);
      return out;
    },
    ...(run ? { verifyRun: (ls0: number, data: Buffer, tags: Buffer, n: number) => run.verifyRun(ls0, bs / 512, data, tags, n) } : {}),
  };
}
