/**
 * Whether crypt_ctr() accepts a dm-crypt table line, and if not the ti->error it logs ("device-mapper: table:
 * <dev>: crypt: <error> (-<errno>)") and the errno dmsetup gets. The checks run in the kernel's order
 * (drivers/md/dm-crypt.c, 6.1.192 and upstream; per-kernel differences in ctr-kernel.ts), so the first failing
 * one names the error:
 *   1. the argument count and the key's size (get_key_size());
 *   2. the optional arguments (crypt_ctr_optional()), before the cipher: integrity:<n>:aead|none, sector_size,
 *      the flags;
 *   3. the cipher (crypt_ctr_cipher(): the capi: or the legacy format, the AEAD's MAC, the tfm, the IV mode,
 *      the key, the IV generator's own checks);
 *   4. iv_offset, the device, its start sector;
 *   5. with AEAD or a stored (random) IV, the lower device's integrity profile (crypt_integrity_ctr()).
 *
 * Not modelled (ModelInputError): keyring keys other than a description no keyring holds, lmk, tcw, essiv,
 * benbi and elephant IVs, key counts above 1, integrity_key_size values and allocation failures.
 *
 * `integrity:<n>` without a second colon names no profile, and the model refuses it as an unknown profile.
 * The kernels read here do not: sscanf("integrity:%u:") counts the %u alone, and crypt_ctr_optional() then
 * calls strcasecmp() on strchr()'s NULL + 1 (6.1 and 6.12 alike), which scenario crypt/016 shows.
 */
import { ModelInputError } from '../errors.ts';
import { refuse, refuseAnyErrno, scanU32, scanU64, type CtrRefusal } from '../integrity/ctr-args.ts';
import { splitTableArgs } from '../integrity/ctr.ts';
import { aeadAlg, macDigestSize, skcipherAlg } from './ctr-algs.ts';
import type { CryptCtrKernel } from './ctr-kernel.ts';

export type { CtrRefusal } from '../integrity/ctr-args.ts';

/** MAX_TAG_SIZE in dm-crypt.c (5.10 to 6.12) */
export const CRYPT_MAX_TAG_SIZE = 480;

/** The block integrity profile a device registers (blk_get_integrity()). */
export interface IntegrityProfile {
  /** dm-integrity's own profile (DM-DIF-EXT-TAG up to 6.10, a checksum-less one since) */
  dmIntegrity: boolean;
  /** the profile checksums (T10 PI); dm-integrity's and NVMe metadata without PI do not */
  checksum: boolean;
  tupleSize: number;
  tagSize: number;
  intervalBytes: number;
}

export interface CryptLower {
  /** size in 512-byte sectors */
  sectors: number;
  /** undefined: the device registers no integrity profile (a plain disk, dm-integrity with an internal hash) */
  profile: IntegrityProfile | undefined;
}

export interface CryptCtrEnv {
  kernel: CryptCtrKernel;
  /** the table line's length (ti->len), in sectors */
  length: number;
  /** a block device by the path the table names; undefined when there is none */
  device(path: string): CryptLower | undefined;
}

export interface CryptCtrAccepted {
  ok: true;
  aead: boolean;
  /** the crypto API name of the cipher it allocated */
  cipherApi: string;
  ivMode: string | undefined;
  /** integrity:<n>: bytes per sector the target uses (0: no integrity) */
  tagSize: number;
  /** bytes per sector of the lower device's tuple the target steps over (6.10+: may exceed tagSize) */
  tupleSize: number;
  /** the random IV stored in each tuple (0 for other IV modes) */
  storedIvSize: number;
  /** the AEAD's auth tag (0 without AEAD) */
  authTagSize: number;
  sectorSize: number;
  /** the lower device's integrity profile is used (AEAD or a stored IV) */
  usesIntegrity: boolean;
  flags: ReadonlySet<string>;
}

export type CryptCtrOutcome = CryptCtrAccepted | CtrRefusal;

interface Optional {
  tagSize: number;
  aead: boolean;
  sectorSize: number;
  flags: Set<string>;
}

/** get_key_size(): hex digits / 2, or ":<size>:<type>:<description>" for a keyring key. */
function keySize(key: string): { bytes: number; keyring: string | undefined } | CtrRefusal {
  if (!key.startsWith(':')) return { bytes: key.length >> 1, keyring: undefined };
  const colon = key.indexOf(':', 1);
  const bad = refuse('Cannot parse key size', key);
  if (colon < 0) return bad;
  // sscanf("%u%c") == 2 with the character ':'
  const size = scanU32(key.slice(1, colon), '');
  if (size === undefined) return bad;
  return { bytes: size, keyring: key.slice(colon + 1) };
}

/** crypt_ctr_optional(): the group's count, then each argument down its if/else chain. */
function scanOptional(args: readonly string[], k: CryptCtrKernel, length: number): Optional | CtrRefusal {
  const o: Optional = { tagSize: 0, aead: false, sectorSize: 512, flags: new Set() };
  const count = scanU32(args[0]!, '');
  if (count === undefined || count > k.maxFeatureArgs || count > args.length - 1) return refuse('Invalid number of feature args', args[0]!);
  for (const s of args.slice(1, 1 + count)) {
    const lower = s.toLowerCase();
    if (k.flags.has(lower)) {
      o.flags.add(lower);
      continue;
    }
    const integrity = s.match(/^integrity:(\d+)(.*)$/);
    if (integrity) {
      const val = Number(integrity[1]);
      if (val > 2 ** 32 - 1) throw new ModelInputError(`'${s}': a value beyond 2^32-1 overflows %u; not modelled`);
      // sscanf("integrity:%u:") counts the %u alone; the profile is whatever follows the next colon
      const colon = integrity[2]!.indexOf(':');
      if (val === 0 || val > CRYPT_MAX_TAG_SIZE) return refuse('Invalid integrity arguments', s);
      // no profile at all: what "Unknown integrity profile" is for (the kernels read dereference NULL + 1 here)
      if (colon < 0) return refuse('Unknown integrity profile', s);
      o.tagSize = val;
      const profile = integrity[2]!.slice(colon + 1).toLowerCase();
      if (profile === 'aead') o.aead = true;
      else if (profile !== 'none') return refuse('Unknown integrity profile', s);
      continue;
    }
    if (/^integrity:[\s+-]/.test(s) || /^sector_size:[\s+-]/.test(s)) throw new ModelInputError(`'${s}': a value with a sign or leading blank is not modelled`);
    if (k.integrityKeySize && scanU32(s, 'integrity_key_size:') !== undefined) {
      if (scanU32(s, 'integrity_key_size:') === 0) return refuse('Invalid integrity_key_size argument', s);
      throw new ModelInputError(`'${s}': an integrity_key_size other than 0 is not modelled`);
    }
    const ss = scanU32(s, 'sector_size:');
    if (ss !== undefined) {
      if (ss > 65535) throw new ModelInputError(`'${s}': a value beyond 65535 overflows %hu; not modelled`);
      if (ss < 512 || ss > 4096 || (ss & (ss - 1))) return refuse('Invalid feature value for sector_size', s);
      if (length & (ss / 512 - 1)) return refuse('Device size is not multiple of sector_size feature', `length ${length}`);
      o.sectorSize = ss;
      continue;
    }
    return refuse('Invalid feature arguments', s);
  }
  return o;
}

interface Cipher {
  api: string;
  ivMode: string | undefined;
  ivOpts: string | undefined;
  ivSize: number;
  /** the skcipher's block size (0 for an AEAD) */
  blockSize: number;
  keyBytes: readonly number[];
  authSizes: readonly number[];
  macKeySize: number;
}

/** crypt_ctr_cipher_new(): "capi:<api>-<ivmode>:<ivopts>", the AEAD's MAC, the tfm. */
function capiCipher(spec: string, aead: boolean, k: CryptCtrKernel): Cipher | CtrRefusal {
  let rest = spec.slice('capi:'.length);
  let ivOpts: string | undefined;
  let ivMode: string | undefined;
  const c = rest.lastIndexOf(':');
  if (c >= 0) [rest, ivOpts] = [rest.slice(0, c), rest.slice(c + 1)];
  const d = rest.lastIndexOf('-');
  if (d >= 0) [rest, ivMode] = [rest.slice(0, d), rest.slice(d + 1)];
  let macKeySize = 0;
  if (aead && rest.startsWith('authenc(')) {
    // crypt_ctr_auth_cipher() fails with -EINVAL (no MAC in the spec) or crypto_alloc_ahash()'s -ENOENT, which
    // crypt_ctr_cipher_new() turns into -ENOMEM on older kernels
    const end = rest.indexOf(',');
    const bad = (cause: string) => refuse('Invalid AEAD cipher spec', spec, k.aeadSpecErrno === 'ENOMEM' ? 'ENOMEM' : cause);
    if (end < 0 || rest.indexOf('(') + 1 > end) return bad('EINVAL');
    const digest = macDigestSize(rest.slice(rest.indexOf('(') + 1, end));
    if (digest === undefined) return bad('ENOENT');
    macKeySize = digest;
  }
  if (ivMode === 'lmk') {
    if (aead) return refuse('AEAD transforms not supported for LMK', spec);
    throw new ModelInputError(`'${spec}': lmk IVs are not modelled`);
  }
  if (ivMode === 'essiv') {
    if (ivOpts === undefined) return refuse('Digest algorithm missing for ESSIV mode', spec);
    throw new ModelInputError(`'${spec}': essiv IVs are not modelled`);
  }
  return allocate(rest, aead, ivMode, ivOpts, macKeySize, spec);
}

/** crypt_ctr_cipher_old(): "<cipher>[:<keycount>]-<chainmode>-<ivmode>:<ivopts>", legacy and never AEAD. */
function legacyCipher(spec: string, aead: boolean): Cipher | CtrRefusal {
  if (spec.includes('(') || aead) return refuse('Bad cipher specification', spec);
  const parts = spec.split('-');
  const [cipher, keycount] = parts[0]!.split(/:(.*)/s) as [string, string | undefined];
  if (keycount !== undefined) {
    const n = scanU32(keycount, '');
    if (n === undefined || n === 0 || (n & (n - 1))) return refuse('Bad cipher key count specification', spec);
    if (n !== 1) throw new ModelInputError(`'${spec}': ${n} keys (tfms_count) are not modelled`);
  }
  let chainmode = parts[1];
  // strsep(&tmp, ":") on the rest after chainmode: the IV mode and its options (which may hold '-')
  const after = parts.length > 2 ? parts.slice(2).join('-') : undefined;
  let ivMode = after === undefined ? undefined : after.split(':')[0];
  const ivOpts = after !== undefined && after.includes(':') ? after.slice(after.indexOf(':') + 1) : undefined;
  if (chainmode === undefined || (chainmode === 'plain' && ivMode === undefined)) [chainmode, ivMode] = ['cbc', 'plain'];
  if (chainmode !== 'ecb' && ivMode === undefined) return refuse('IV mechanism required', spec);
  if (ivMode === 'essiv') {
    if (ivOpts === undefined) return refuse('Digest algorithm missing for ESSIV mode', spec);
    throw new ModelInputError(`'${spec}': essiv IVs are not modelled`);
  }
  return allocate(`${chainmode}(${cipher})`, false, ivMode, ivOpts, 0, spec);
}

/** crypt_alloc_tfms(): an AEAD when the table says integrity:<n>:aead, else an skcipher. */
function allocate(api: string, aead: boolean, ivMode: string | undefined, ivOpts: string | undefined, macKeySize: number, spec: string): Cipher | CtrRefusal {
  if (aead) {
    const a = aeadAlg(api);
    // an skcipher's name is no AEAD (nor the other way round): the lookup of that type fails, with an errno the
    // model does not claim (gcm(aes) as an skcipher: -ENOENT on 6.1.192, -EINVAL on 6.12.118)
    if (a === undefined) return /nosuch/.test(api) ? refuse('Error allocating crypto tfm', spec, 'ENOENT') : refuseAnyErrno('Error allocating crypto tfm', spec);
    if ((a.mac !== undefined) !== (macKeySize > 0)) throw new ModelInputError(`'${api}': the AEAD table and crypt_ctr_auth_cipher() disagree about its MAC`);
    return { api, ivMode, ivOpts, ivSize: a.ivSize, blockSize: 0, keyBytes: a.keyBytes, authSizes: a.authSizes, macKeySize };
  }
  const s = skcipherAlg(api);
  if (s === undefined) return /nosuch/.test(api) ? refuse('Error allocating crypto tfm', spec, 'ENOENT') : refuseAnyErrno('Error allocating crypto tfm', spec);
  return { api, ivMode, ivOpts, ivSize: s.ivSize, blockSize: s.blockSize, keyBytes: s.keyBytes, authSizes: [], macKeySize: 0 };
}

const IV_MODES = new Set(['plain', 'plain64', 'plain64be', 'null', 'eboiv', 'random']);
const IV_MODES_NOT_MODELLED = new Set(['essiv', 'benbi', 'elephant', 'lmk', 'tcw']);

/** crypt_ctr_ivmode(): the IV size (at least 8 bytes), the generator, and the stored IV of `random`. */
function ivMode(c: Cipher, spec: string): { ivSize: number; mode: string | undefined; storedIv: number } | CtrRefusal {
  // a cipher without IVs drops the IV mode (with a warning)
  const ivSize = c.ivSize ? Math.max(c.ivSize, 8) : 0;
  const mode = ivSize ? c.ivMode : undefined;
  if (mode === undefined) return { ivSize, mode, storedIv: 0 };
  if (IV_MODES_NOT_MODELLED.has(mode)) throw new ModelInputError(`'${spec}': ${mode} IVs are not modelled`);
  if (!IV_MODES.has(mode)) return refuse('Invalid IV mode', spec);
  return { ivSize, mode, storedIv: mode === 'random' ? ivSize : 0 };
}

/** crypt_set_key() and crypt_setkey(): hex key, then the tfm's setkey (authenc: encryption key || MAC key). */
function setKey(c: Cipher, key: string, size: { bytes: number; keyring: string | undefined }): CtrRefusal | undefined {
  const at = 'key';
  const bad = (errno = 'EINVAL') => refuse('Error decoding and setting key', at, errno);
  if (size.bytes === 0 && key !== '-') return bad();
  if (size.keyring !== undefined) {
    const m = size.keyring.match(/^(logon|user|encrypted|trusted):(.+)$/);
    if (!m || /\s/.test(size.keyring)) return bad();
    if (!m[2]!.startsWith('nosuch')) throw new ModelInputError(`keyring key '${size.keyring}': only descriptions no keyring holds ('nosuch...') are modelled`);
    // request_key() finds nothing and has no upcall to make
    return bad('ENOKEY');
  }
  if (!/^[0-9a-fA-F]*$/.test(key.slice(0, 2 * size.bytes))) return bad();
  const enc = c.macKeySize ? size.bytes - c.macKeySize : size.bytes;
  if (enc < 0 || !c.keyBytes.includes(enc)) return bad();
  return undefined;
}

/**
 * The IV generator's own constructor (crypt_iv_eboiv_ctr(); the modelled others have none). What it says
 * ("AEAD transforms not supported for EBOIV", "Block size of EBOIV cipher does not match ...") is
 * overwritten by crypt_ctr_cipher()'s "Error creating IV"; it stays in `at`.
 */
function ivCtr(c: Cipher, iv: { ivSize: number; mode: string | undefined }, aead: boolean): CtrRefusal | undefined {
  if (iv.mode !== 'eboiv') return undefined;
  if (aead) return refuse('Error creating IV', 'eboiv: AEAD transforms not supported for EBOIV');
  if (c.blockSize !== iv.ivSize) return refuse('Error creating IV', 'eboiv: Block size of EBOIV cipher does not match IV size of block cipher');
  return undefined;
}

/** crypt_integrity_ctr(): the lower device's profile against integrity:<n>, the sector size and the AEAD's tag. */
function integrityCtr(k: CryptCtrKernel, dev: CryptLower, o: Optional, c: Cipher, storedIv: number, path: string): { tuple: number; authTag: number } | CtrRefusal {
  const p = dev.profile;
  const unsupported = refuse('Integrity profile not supported.', path);
  const mismatch = refuse('Integrity profile tag size mismatch.', `integrity:${o.tagSize}`);
  let tuple: number;
  if (k.profileTag === 'exact') {
    if (!p?.dmIntegrity) return unsupported;
    if (p.tagSize !== o.tagSize || p.tupleSize !== o.tagSize) return mismatch;
    tuple = p.tagSize;
  } else {
    if (!p || p.checksum) return unsupported;
    if (p.tupleSize < o.tagSize) return mismatch;
    tuple = p.tupleSize;
  }
  if (p.intervalBytes !== o.sectorSize) return refuse('Integrity profile sector size mismatch.', `sector_size:${o.sectorSize}`);
  let authTag = 0;
  if (o.aead) {
    // unsigned: a tag smaller than the stored IV wraps to a huge auth size, which setauthsize refuses
    authTag = (o.tagSize - storedIv) >>> 0;
    if (!c.authSizes.includes(authTag)) return refuse('Integrity AEAD auth tag size is not supported.', `integrity:${o.tagSize}`);
  }
  const room = k.profileTag === 'exact' ? authTag + storedIv !== p.tagSize : authTag + storedIv > tuple;
  if (room) return refuse('Not enough space for integrity tag in the profile.', `integrity:${o.tagSize}`);
  return { tuple, authTag };
}

export function expectCryptCtr(line: string, env: CryptCtrEnv): CryptCtrOutcome {
  const k = env.kernel;
  const argv = splitTableArgs(line);
  if (argv.length < 5) return refuse('Not enough arguments', `${argv.length} arguments`);
  const [spec, key, ivOffsetText, path, startText] = argv as [string, string, string, string, string];
  const size = keySize(key);
  if ('ok' in size) return size;
  const o = argv.length > 5 ? scanOptional(argv.slice(5), k, env.length) : { tagSize: 0, aead: false, sectorSize: 512, flags: new Set<string>() };
  if ('ok' in o) return o;
  const c = spec.startsWith('capi:') ? capiCipher(spec, o.aead, k) : legacyCipher(spec, o.aead);
  if ('ok' in c) return c;
  const iv = ivMode(c, spec);
  if ('ok' in iv) return iv;
  const keyed = setKey(c, key, size);
  if (keyed) return keyed;
  const ivc = ivCtr(c, iv, o.aead);
  if (ivc) return ivc;
  const ivOffset = scanU64(ivOffsetText, '');
  if (ivOffset === undefined || ivOffset & BigInt(o.sectorSize / 512 - 1)) return refuse('Invalid iv_offset sector', ivOffsetText);
  const dev = env.device(path);
  // dm_get_device(): -ENODEV or -ENOENT depending on the kernel's lookup path, so no errno is claimed
  if (dev === undefined) return refuseAnyErrno('Device lookup failed', path);
  const start = scanU64(startText, '');
  if (start === undefined) return refuse('Invalid device sector', startText);
  let tuple = o.tagSize;
  let authTag = 0;
  const usesIntegrity = o.aead || iv.storedIv > 0;
  if (usesIntegrity) {
    const r = integrityCtr(k, dev, o, c, iv.storedIv, path);
    if ('ok' in r) return r;
    ({ tuple, authTag } = r);
  }
  // beyond the device, the dm core refuses the table after the ctr, with a line of its own
  if (Number(start) + env.length > dev.sectors) throw new ModelInputError(`'${line}': start ${start} + length ${env.length} is beyond the ${dev.sectors} sectors of ${path}`);
  return {
    ok: true, aead: o.aead, cipherApi: c.api, ivMode: iv.mode, tagSize: o.tagSize, tupleSize: tuple, storedIvSize: iv.storedIv,
    authTagSize: authTag, sectorSize: o.sectorSize, usesIntegrity, flags: o.flags,
  };
}
