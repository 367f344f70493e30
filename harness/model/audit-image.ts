/**
 * The `npm run audit` entry: turns command-line options into audit parameters and audits one raw image:
 * dm-integrity with an internal hash (--hash), dm-crypt AEAD over dm-integrity without one (--cipher,
 * every sector decrypted and authenticated with the table key), or a LUKS2 --integrity image (recognised
 * by its header, which gives everything but the volume key).
 */
import { ModelInputError } from './errors.ts';
import { cryptKeyProblems, parseCryptCipher } from './crypt/cipher.ts';
import { cryptAeadVerifier } from './crypt/verifier.ts';
import { auditIntegrityImage, type IntegrityAuditReport } from './integrity/audit.ts';
import { isKeyedHash, parseIntegrityHash } from './integrity/tags.ts';
import { auditLuks2Image, looksLikeLuks2, volumeKey, type Luks2AuditReport } from './luks2/audit.ts';

export interface AuditCliOptions {
  hash?: string;
  key?: string;
  /** the key as raw bytes in a file (cryptsetup's --volume-key-file) */
  volumeKeyFile?: string;
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

export function auditImage(image: string, o: AuditCliOptions): IntegrityAuditReport | Luks2AuditReport {
  if (looksLikeLuks2(image)) return auditLuks2Cli(image, o);
  if (o.cipher !== undefined) return auditCryptImage(image, o, o.cipher);
  if (o.hash === undefined) throw new ModelInputError('--hash is required for a dm-integrity image (e.g. --hash crc32c)');
  const hash = parseIntegrityHash(o.hash, '--hash');
  const key = volumeKey(o);
  if (isKeyedHash(hash) && key === undefined) throw new ModelInputError(`--hash ${o.hash} needs --key <hex>`);
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
  const key = volumeKey(o);
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

/** What the LUKS2 header decides cannot also come from the command line: refuse rather than ignore. */
const HEADER_DECIDES: Array<[keyof AuditCliOptions, string]> = [
  ['hash', '--hash'], ['cipher', '--cipher'], ['start', '--start'], ['ivOffset', '--iv-offset'], ['sectorSize', '--sector-size'], ['meta', '--meta'],
];

function auditLuks2Cli(image: string, o: AuditCliOptions): Luks2AuditReport {
  const given = HEADER_DECIDES.filter(([k]) => o[k] !== undefined).map(([, flag]) => flag);
  if (given.length) throw new ModelInputError(`${given.join(', ')}: a LUKS2 image's header gives these (data segment offset, cipher, sector size, iv_tweak); give only the volume key`, { source: image });
  if (o.allowDiscards) throw new ModelInputError('--allow-discards: cryptsetup refuses discards on LUKS2 devices with integrity', { source: image });
  const key = volumeKey(o);
  if (key === undefined) throw new ModelInputError('a LUKS2 image needs its volume key: --key <hex> or --volume-key-file <file>', { source: image });
  return auditLuks2Image(image, key, {
    wiped: o.wipe !== false,
    ...(o.maxDisagreements !== undefined ? { maxDisagreements: o.maxDisagreements } : {}),
  });
}
