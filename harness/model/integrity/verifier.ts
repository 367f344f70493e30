/**
 * How the audit decides whether one block's tag verifies. dm-integrity with an internal hash recomputes
 * the tag; a dm-crypt AEAD stack (no internal hash) authenticates the tuple stored in the tag slot.
 */
import { tagWriter, type IntegrityHash } from './tags.ts';

export interface BlockVerifier {
  /** whether the kernel would accept this block (data and tag bytes as found on disk) */
  verify(logicalSector: number, data: Buffer, tag: Buffer): boolean;
  /** the bytes a read returns when the block verifies: the data itself, or the decrypted plaintext */
  plaintext(logicalSector: number, data: Buffer, tag: Buffer): Buffer;
  /** for reports: the tag the kernel would have written for this data, when it is determined by it */
  expectedTag(logicalSector: number, data: Buffer): Buffer | undefined;
}

export function internalHashVerifier(p: { hash: IntegrityHash; key?: Buffer; salt?: Buffer; tagSize: number }): BlockVerifier {
  const write = tagWriter(p);
  const scratch = Buffer.alloc(p.tagSize);
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
  };
}
