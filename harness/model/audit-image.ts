/**
 * The `npm run audit` entry: turns command-line options into audit parameters and audits one raw image:
 * dm-integrity with an internal hash (--hash), or dm-crypt AEAD over dm-integrity without one (--cipher,
 * every sector decrypted and authenticated with the table key).
 */
import { ModelInputError } from './errors.ts';
import { cryptKeyProblems, parseCryptCipher } from './crypt/cipher.ts';
import { cryptAeadVerifier } from './crypt/verifier.ts';
import { auditIntegrityImage, type IntegrityAuditReport } from './integrity/audit.ts';
import { parseIntegrityHash } from './integrity/tags.ts';

export interface AuditCliOptions {
  hash?: string;
  key?: string;
  cipher?: string;
  meta?: string;
  start?: number;
  ivOffset?: number;
  sectorSize?: number;
  allowDiscards?: boolean;
  /** commander's --no-wipe: false when given */
  wipe?: boolean;
  maxDisagreements?: number | undefined;
}

function hexKey(key: string | undefined): Buffer | undefined {
  if (key === undefined) return undefined;
  if (!/^([0-9a-fA-F]{2})+$/.test(key)) throw new ModelInputError(`--key must be an even-length hex string, got '${key}'`);
  return Buffer.from(key, 'hex');
}

export function auditImage(image: string, o: AuditCliOptions): IntegrityAuditReport {
  if (o.cipher !== undefined) return auditCryptImage(image, o, o.cipher);
  if (o.hash === undefined) throw new ModelInputError('--hash is required for a dm-integrity image (e.g. --hash crc32c)');
  const hash = parseIntegrityHash(o.hash.replace(/^hmac\(sha256\)$/, 'hmac-sha256'), '--hash');
  const key = hexKey(o.key);
  if (hash === 'hmac-sha256' && key === undefined) throw new ModelInputError('--hash hmac(sha256) needs --key <hex>');
  return auditIntegrityImage(image, {
    hash,
    ...(key !== undefined ? { key } : {}),
    ...(o.meta !== undefined ? { meta: o.meta } : {}),
    ...(o.start !== undefined ? { startSector: o.start } : {}),
    ...(o.allowDiscards ? { allowDiscards: true } : {}),
    wiped: o.wipe !== false,
    ...(o.maxDisagreements !== undefined ? { maxDisagreements: o.maxDisagreements } : {}),
  });
}

/**
 * dm-crypt AEAD: the tag slots hold dm-crypt's tuples, so there is no internal hash to name. --iv-offset
 * changes nothing for these ciphers (random IVs; the AAD sector is target-relative) and is accepted as such.
 */
function auditCryptImage(image: string, o: AuditCliOptions, spec: string): IntegrityAuditReport {
  if (o.hash !== undefined) throw new ModelInputError(`--hash ${o.hash} and --cipher are exclusive: under dm-crypt AEAD, dm-integrity has no internal hash`);
  const cipher = parseCryptCipher(spec, '--cipher');
  const key = hexKey(o.key);
  if (key === undefined) throw new ModelInputError(`--cipher ${spec} needs --key <hex>, the key from the dm-crypt table`);
  const problems = cryptKeyProblems(cipher, key);
  if (problems.length) throw new ModelInputError(`--key: ${problems.join('; ')}`);
  return auditIntegrityImage(image, {
    verifier: cryptAeadVerifier({ cipher, key, ...(o.sectorSize !== undefined ? { sectorSize: o.sectorSize } : {}) }),
    ...(o.meta !== undefined ? { meta: o.meta } : {}),
    ...(o.start !== undefined ? { startSector: o.start } : {}),
    wiped: o.wipe !== false,
    ...(o.maxDisagreements !== undefined ? { maxDisagreements: o.maxDisagreements } : {}),
  });
}
