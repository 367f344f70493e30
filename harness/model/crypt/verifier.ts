/**
 * dm-crypt AEAD over dm-integrity as the audit sees it: each dm-integrity block is one crypt sector, its tag
 * slot holds the tuple [auth tag | stored IV | zero padding] (tag_from_dmreq(), iv_tag_from_dmreq(); the
 * IV is stored only in `random` mode, plain64 derives it from the sector), and the block verifies when
 * the sector decrypts and authenticates. dm-crypt's sector_size must equal dm-integrity's
 * block size (crypt_integrity_ctr(): "Integrity profile sector size mismatch").
 */
import { randomBytes } from 'node:crypto';
import { ModelInputError } from '../errors.ts';
import type { IntegrityGeometry } from '../integrity/geometry.ts';
import type { IntegritySuperblock } from '../integrity/superblock.ts';
import type { BlockSealer } from '../integrity/synthetic.ts';
import type { BlockVerifier } from '../integrity/verifier.ts';
import { openSector, plain64Iv, sealSector } from './aead.ts';
import { gcmRun } from './gcm-run.ts';
import { cryptKeyProblems, type CryptAeadCipher } from './cipher.ts';

export interface CryptAeadParams {
  cipher: CryptAeadCipher;
  key: Buffer;
  /** the crypt table's <offset> on the dm-integrity device, in 512-byte sectors (0 for LUKS2 and the harness) */
  offsetSectors?: number;
  /** the crypt table's sector_size; must equal the dm-integrity block size when given */
  sectorSize?: number;
  /** the crypt table's <iv_offset> (LUKS2 iv_tweak): added to the sector for plain64 IVs, not to the AAD */
  ivOffsetSectors?: number;
}

/** Where the auth tag and the stored IV sit in a block's tag slot (iv === padding when none is stored). */
export function tupleLayout(c: CryptAeadCipher): { authTag: number; iv: number; padding: number } {
  return { authTag: 0, iv: c.authTagSize, padding: c.authTagSize + c.storedIvSize };
}

/** The IV a crypt sector was written with: from the tuple (random) or from its sector (plain64). */
function sectorIv(c: CryptAeadCipher, cryptSector: number, ivOffset: number, tag: Uint8Array): Buffer {
  const { iv, padding } = tupleLayout(c);
  return c.ivMode === 'plain64' ? plain64Iv(cryptSector + ivOffset, c.ivSize) : Buffer.from(tag.subarray(iv, padding));
}

function checkParams(p: CryptAeadParams, sb: IntegritySuperblock, geom: IntegrityGeometry): number {
  const problems = cryptKeyProblems(p.cipher, p.key);
  if (problems.length) throw new ModelInputError(`key: ${problems.join('; ')}`);
  if (sb.tagSize !== p.cipher.tupleSize) {
    throw new ModelInputError(`superblock tag size is ${sb.tagSize} bytes, ${p.cipher.spec} stores ${p.cipher.tupleSize} (integrity:${p.cipher.tupleSize}:aead)`);
  }
  if (p.sectorSize !== undefined && p.sectorSize !== geom.blockSize) {
    throw new ModelInputError(`crypt sector size ${p.sectorSize} differs from the dm-integrity block size ${geom.blockSize}; the kernel refuses that table`);
  }
  const offset = p.offsetSectors ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0 || offset % geom.sectorsPerBlock) {
    throw new ModelInputError(`crypt offset ${offset} must be a non-negative multiple of ${geom.sectorsPerBlock} sectors`);
  }
  return offset;
}

export function cryptAeadVerifier(p: CryptAeadParams): (sb: IntegritySuperblock, geom: IntegrityGeometry) => BlockVerifier {
  return (sb, geom) => {
    const offset = checkParams(p, sb, geom);
    const ivOffset = p.ivOffsetSectors ?? 0;
    const { authTag, iv, padding } = tupleLayout(p.cipher);
    const zeroTuple = Buffer.alloc(padding);
    // the audit asks plaintext() right after verify() succeeded for the same block: decrypt once
    let last: { ls: number; data: Buffer; tag: Buffer; plain: Buffer } | undefined;
    const open = (ls: number, data: Buffer, tag: Buffer): Buffer | undefined => {
      if (last && last.ls === ls && last.data.equals(data) && last.tag.equals(tag)) return last.plain;
      // below the crypt target: not a crypt sector at all
      if (ls < offset) return undefined;
      // a never-written sector: an all-zero tag authenticates with probability 2^-128, so skip the cipher
      if (tag.subarray(0, padding).equals(zeroTuple)) return undefined;
      const plain = openSector(p.cipher, p.key, ls - offset, sectorIv(p.cipher, ls - offset, ivOffset, tag), data, Buffer.from(tag.subarray(authTag, iv)));
      if (plain !== undefined) last = { ls, data: Buffer.from(data), tag: Buffer.from(tag), plain };
      return plain;
    };
    // runs: each sector decrypted once, straight into one plaintext buffer the audit compares a run at a time
    const bs = geom.blockSize;
    let runPlain = Buffer.alloc(0);
    let runAt = -1;
    const openRun = (ls0: number, data: Buffer, tags: Buffer, n: number): boolean => {
      if (runPlain.length < n * bs) runPlain = Buffer.alloc(n * bs);
      runAt = -1;
      const ts = sb.tagSize;
      for (let i = 0; i < n; i++) {
        const ls = ls0 + i * geom.sectorsPerBlock;
        const tag = tags.subarray(i * ts, i * ts + padding);
        if (ls < offset || tag.equals(zeroTuple)) return false;
        const plain = openSector(p.cipher, p.key, ls - offset, sectorIv(p.cipher, ls - offset, ivOffset, tag), data.subarray(i * bs, (i + 1) * bs), tag.subarray(authTag, iv));
        if (plain === undefined) return false;
        plain.copy(runPlain, i * bs);
      }
      runAt = ls0;
      return true;
    };
    // gcm(aes) with the IV in the tuple: a run authenticates with one GHASH and one AES-ECB call (gcm-run.ts)
    const gcm = p.cipher.kind === 'gcm-aes' && p.cipher.ivMode === 'random' && padding === 28
      ? gcmRun({ key: p.key, sectorSize: bs, tupleSize: sb.tagSize, authTagSize: p.cipher.authTagSize })
      : undefined;
    let gcmAt = -1;
    const verifyRun = gcm
      ? (ls0: number, data: Buffer, tags: Buffer, n: number): boolean => {
          gcmAt = ls0 >= offset && gcm.verifyRun(ls0 - offset, geom.sectorsPerBlock, data, tags, n) ? ls0 : -1;
          return gcmAt === ls0;
        }
      : openRun;
    return {
      verifyRun,
      ...(gcm ? { runBuffers: (n: number) => gcm.buffers(n) } : {}),
      plaintextRun(ls0, data, tags, n) {
        if (gcm) {
          if (gcmAt !== ls0 && !verifyRun(ls0, data, tags, n)) throw new ModelInputError(`sectors from ${ls0} do not all authenticate; plaintextRun() is only for verified runs`);
          return gcm.plaintext(data, n);
        }
        if (runAt !== ls0 && !openRun(ls0, data, tags, n)) throw new ModelInputError(`sectors from ${ls0} do not all authenticate; plaintextRun() is only for verified runs`);
        return runPlain.subarray(0, n * bs);
      },
      verify: (ls, data, tag) => open(ls, data, tag) !== undefined,
      plaintext(ls, data, tag) {
        const plain = open(ls, data, tag);
        if (plain === undefined) throw new ModelInputError(`sector ${ls} does not authenticate; plaintext() is only for verified blocks`);
        return plain;
      },
      // a random IV per write: the tuple is not a function of the data (plain64 could say, but the
      // audit's "a tuple that authenticates" is as precise for a MAC the host cannot split from the data)
      expectedTag: () => undefined,
    };
  };
}

/** How a synthetic image stores a block the way dm-crypt would: IV (fresh or plain64), encrypt, tuple in the tag slot. */
export function cryptAeadSealer(p: CryptAeadParams, newIv: (ls: number) => Buffer = () => randomBytes(p.cipher.ivSize)): (sb: IntegritySuperblock) => BlockSealer {
  return (sb) => {
    if (sb.tagSize !== p.cipher.tupleSize) throw new ModelInputError(`superblock tag size ${sb.tagSize} does not fit ${p.cipher.spec} (${p.cipher.tupleSize})`);
    const offset = p.offsetSectors ?? 0;
    const { authTag, iv: ivAt, padding } = tupleLayout(p.cipher);
    return (ls, plaintext, dataOut, tagOut) => {
      const iv = p.cipher.ivMode === 'plain64' ? plain64Iv(ls - offset + (p.ivOffsetSectors ?? 0), p.cipher.ivSize) : newIv(ls);
      const s = sealSector(p.cipher, p.key, ls - offset, iv, plaintext);
      s.ciphertext.copy(dataOut);
      s.authTag.copy(tagOut, authTag);
      if (p.cipher.storedIvSize > 0) iv.copy(tagOut, ivAt);
      tagOut.fill(0, padding);
    };
  };
}
