import { describe, expect, it } from 'vitest';
import { expectCryptCtr, type CryptCtrEnv, type CryptLower } from './ctr.ts';
import { cryptCtrKernel } from './ctr-kernel.ts';
import { ModelInputError } from '../errors.ts';

const integrity = (tag: number, block = 512): CryptLower => ({
  sectors: 32768, profile: { dmIntegrity: true, checksum: false, tupleSize: tag, tagSize: tag, intervalBytes: block },
});
const devices: Record<string, CryptLower> = {
  '/dev/vda': { sectors: 32768, profile: undefined },
  '/dev/i28': integrity(28), '/dev/i48': integrity(48), '/dev/i32': integrity(32), '/dev/i16': integrity(16), '/dev/i28k': integrity(28, 4096),
};
const env = (version: number[], o: Partial<CryptCtrEnv> = {}): CryptCtrEnv => ({ kernel: cryptCtrKernel(version), length: 8, device: (p) => devices[p], ...o });
const k61 = env([6, 1, 192]);
const k612 = env([6, 12, 118]);
const key = (n: number) => '11'.repeat(n);
const GCM = 'capi:gcm(aes)-random';
const AUTHENC = 'capi:authenc(hmac(sha256),xts(aes))-random';
const refusal = (line: string, e: CryptCtrEnv = k61) => {
  const r = expectCryptCtr(line, e);
  if (r.ok) throw new Error(`expected a refusal of '${line}'`);
  return r.error;
};

describe('expectCryptCtr: arguments and options', () => {
  it('accepts the AEAD tables the crypt-aead stack builds, with the tuple the model decrypts', () => {
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:28:aead`, k61)).toMatchObject({ ok: true, aead: true, tagSize: 28, storedIvSize: 12, authTagSize: 16, tupleSize: 28 });
    expect(expectCryptCtr(`${AUTHENC} ${key(96)} 0 /dev/i48 0 1 integrity:48:aead`, k61)).toMatchObject({ ok: true, storedIvSize: 16, authTagSize: 32 });
    expect(expectCryptCtr(`capi:authenc(hmac(sha256),xts(aes))-plain64 ${key(64)} 0 /dev/i32 0 1 integrity:32:aead`, k61)).toMatchObject({ ok: true, storedIvSize: 0, authTagSize: 32 });
  });

  it('refuses the arguments in the kernel order, the options before the cipher', () => {
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28`)).toBe('Not enough arguments');
    expect(refusal(`${GCM} :32 0 /dev/i28 0`)).toBe('Cannot parse key size');
    expect(refusal(`${GCM} :x:logon:k 0 /dev/i28 0`)).toBe('Cannot parse key size');
    // the option count is read before the cipher, which here does not exist
    expect(refusal(`capi:nosuch-random ${key(32)} 0 /dev/i28 0 2 integrity:28:aead`)).toBe('Invalid number of feature args');
    expect(refusal(`capi:nosuch-random ${key(32)} 0 /dev/i28 0 1 integrity:0:aead`)).toBe('Invalid integrity arguments');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:481:aead`)).toBe('Invalid integrity arguments');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:28:hmac`)).toBe('Unknown integrity profile');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 2 integrity:28:aead sector_size:1000`)).toBe('Invalid feature value for sector_size');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 2 integrity:28:aead sector_size:8192`)).toBe('Invalid feature value for sector_size');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28k 0 2 integrity:28:aead sector_size:4096`, env([6, 1], { length: 12 }))).toBe('Device size is not multiple of sector_size feature');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 2 integrity:28:aead sector_size:4096x`)).toBe('Invalid feature arguments');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 2 integrity:28:aead nosuch_flag`)).toBe('Invalid feature arguments');
    expect(refusal(`${GCM} ${key(32)} 8 /dev/i28 0 2 integrity:28:aead sector_size:4096`, env([6, 1], { length: 16 }))).toBe('Integrity profile sector size mismatch.');
    expect(expectCryptCtr(`${GCM} ${key(32)} 8 /dev/i28k 0 2 integrity:28:aead sector_size:4096`, env([6, 1], { length: 16 }))).toMatchObject({ ok: true, sectorSize: 4096 });
    expect(refusal(`${GCM} ${key(32)} 4 /dev/i28k 0 2 integrity:28:aead sector_size:4096`)).toBe('Invalid iv_offset sector');
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/nope 0 1 integrity:28:aead`, k61)).toMatchObject({ error: 'Device lookup failed', errno: undefined });
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 x 1 integrity:28:aead`)).toBe('Invalid device sector');
  });

  it('takes the flags case-insensitively, and 6.12 knows high_priority, integrity_key_size and a ninth option', () => {
    const flags = 'allow_discards SAME_CPU_CRYPT submit_from_crypt_cpus no_read_workqueue no_write_workqueue iv_large_sectors';
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/i28 0 7 ${flags} integrity:28:aead`, k61)).toMatchObject({ ok: true, flags: new Set(flags.toLowerCase().split(' ')) });
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 9 ${flags} integrity:28:aead same_cpu_crypt high_priority`)).toBe('Invalid number of feature args');
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/i28 0 9 ${flags} integrity:28:aead same_cpu_crypt high_priority`, k612)).toMatchObject({ ok: true });
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 2 integrity:28:aead high_priority`)).toBe('Invalid feature arguments');
    expect(refusal(`${AUTHENC} ${key(96)} 0 /dev/i48 0 2 integrity:48:aead integrity_key_size:0`)).toBe('Invalid feature arguments');
    expect(refusal(`${AUTHENC} ${key(96)} 0 /dev/i48 0 2 integrity:48:aead integrity_key_size:0`, k612)).toBe('Invalid integrity_key_size argument');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 9 ${flags} integrity:28:aead same_cpu_crypt high_priority`, env([5, 10, 223]))).toBe('Invalid number of feature args');
  });

  it('refuses integrity:<n> with no profile name as an unknown profile (the kernels read dereference NULL + 1 instead)', () => {
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:28`, k61)).toBe('Unknown integrity profile');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:28`, k612)).toBe('Unknown integrity profile');
    // the tag size is checked first, so an invalid one is refused before the missing profile matters
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:0`, k61)).toBe('Invalid integrity arguments');
  });
});

describe('expectCryptCtr: cipher, IV mode and key', () => {
  it('checks the cipher spec like crypt_ctr_cipher_new() and _old()', () => {
    expect(expectCryptCtr(`capi:authenc(nosuch,xts(aes))-random ${key(96)} 0 /dev/i48 0 1 integrity:48:aead`, k61)).toMatchObject({ error: 'Invalid AEAD cipher spec', errno: 'ENOMEM' });
    // 6.12 passes on crypto_alloc_ahash()'s errno, or -EINVAL for a spec without a MAC
    expect(expectCryptCtr(`capi:authenc(nosuch,xts(aes))-random ${key(96)} 0 /dev/i48 0 1 integrity:48:aead`, k612)).toMatchObject({ error: 'Invalid AEAD cipher spec', errno: 'ENOENT' });
    expect(expectCryptCtr(`capi:authenc(hmac(sha256)-random ${key(96)} 0 /dev/i48 0 1 integrity:48:aead`, k612)).toMatchObject({ errno: 'EINVAL' });
    expect(refusal(`capi:authenc(hmac(sha256)-random ${key(96)} 0 /dev/i48 0 1 integrity:48:aead`)).toBe('Invalid AEAD cipher spec');
    expect(refusal(`capi:gcm(aes)-lmk ${key(32)} 0 /dev/i28 0 1 integrity:28:aead`)).toBe('AEAD transforms not supported for LMK');
    expect(refusal(`capi:gcm(aes)-essiv ${key(32)} 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Digest algorithm missing for ESSIV mode');
    expect(expectCryptCtr(`capi:nosuch(aes)-random ${key(32)} 0 /dev/i28 0 1 integrity:28:aead`, k61)).toMatchObject({ error: 'Error allocating crypto tfm', errno: 'ENOENT' });
    // gcm(aes) is no skcipher: without integrity:<n>:aead it is not found
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:28:none`, k61)).toMatchObject({ error: 'Error allocating crypto tfm', errno: undefined });
    expect(refusal(`aes-xts-plain64 ${key(64)} 0 /dev/i32 0 1 integrity:32:aead`)).toBe('Bad cipher specification');
    expect(refusal(`aes:3-xts-plain64 ${key(64)} 0 /dev/vda 0`)).toBe('Bad cipher key count specification');
    expect(refusal(`aes-xts ${key(64)} 0 /dev/vda 0`)).toBe('IV mechanism required');
    expect(refusal(`aes-xts-nosuchiv ${key(64)} 0 /dev/vda 0`)).toBe('Invalid IV mode');
    expect(refusal(`capi:gcm(aes)-nosuchiv ${key(32)} 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Invalid IV mode');
    expect(expectCryptCtr(`aes-xts-plain64 ${key(64)} 0 /dev/vda 0`, k61)).toMatchObject({ ok: true, usesIntegrity: false, cipherApi: 'xts(aes)' });
    expect(() => expectCryptCtr(`aes-cbc-essiv:sha256 ${key(32)} 0 /dev/vda 0`, k61)).toThrow(ModelInputError);
  });

  it('sets the key like crypt_set_key(): hex, the size the tfm takes, authenc split as cipher key || MAC key', () => {
    expect(refusal(`${GCM} ${key(20)} 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Error decoding and setting key');
    expect(refusal(`${GCM} ${'zz'.repeat(32)} 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Error decoding and setting key');
    expect(refusal(`${GCM} - 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Error decoding and setting key');
    expect(refusal(`${GCM} a 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Error decoding and setting key');
    // an odd length: the last digit is never read
    expect(expectCryptCtr(`${GCM} ${key(32)}f 0 /dev/i28 0 1 integrity:28:aead`, k61)).toMatchObject({ ok: true });
    // the MAC key alone leaves xts(aes) nothing, 16 bytes less leaves it half a key
    expect(refusal(`${AUTHENC} ${key(32)} 0 /dev/i48 0 1 integrity:48:aead`)).toBe('Error decoding and setting key');
    expect(refusal(`${AUTHENC} ${key(40)} 0 /dev/i48 0 1 integrity:48:aead`)).toBe('Error decoding and setting key');
    expect(expectCryptCtr(`${AUTHENC} ${key(80)} 0 /dev/i48 0 1 integrity:48:aead`, k61)).toMatchObject({ ok: true });
    expect(expectCryptCtr(`${GCM} :32:logon:nosuch-key 0 /dev/i28 0 1 integrity:28:aead`, k61)).toMatchObject({ error: 'Error decoding and setting key', errno: 'ENOKEY' });
    expect(refusal(`${GCM} :32:nosuchtype:x 0 /dev/i28 0 1 integrity:28:aead`)).toBe('Error decoding and setting key');
    // the IV generator's own message is overwritten by crypt_ctr_cipher()'s
    expect(expectCryptCtr(`capi:gcm(aes)-eboiv ${key(32)} 0 /dev/i16 0 1 integrity:16:aead`, k61)).toMatchObject({ error: 'Error creating IV', at: 'eboiv: AEAD transforms not supported for EBOIV' });
    expect(expectCryptCtr(`aes-xts-eboiv ${key(64)} 0 /dev/vda 0`, k61)).toMatchObject({ ok: true });
  });
});

describe('expectCryptCtr: the lower device (crypt_integrity_ctr)', () => {
  it('needs dm-integrity\'s profile with a tuple of exactly integrity:<n> on 6.1, one it fits in on 6.12', () => {
    expect(refusal(`${GCM} ${key(32)} 0 /dev/vda 0 1 integrity:28:aead`)).toBe('Integrity profile not supported.');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/vda 0 1 integrity:28:aead`, k612)).toBe('Integrity profile not supported.');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i32 0 1 integrity:28:aead`)).toBe('Integrity profile tag size mismatch.');
    expect(expectCryptCtr(`${GCM} ${key(32)} 0 /dev/i32 0 1 integrity:28:aead`, k612)).toMatchObject({ ok: true, tagSize: 28, tupleSize: 32 });
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:32:aead`, k612)).toBe('Integrity profile tag size mismatch.');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28k 0 1 integrity:28:aead`)).toBe('Integrity profile sector size mismatch.');
  });

  it('takes an NVMe namespace\'s plain metadata (the no-op profile) on 6.12 only, and never T10 PI', () => {
    const nvme = (pi: 0 | 1): CryptLower => ({ sectors: 2048, profile: { dmIntegrity: false, checksum: pi !== 0, tupleSize: 8, tagSize: pi ? 2 : 0, intervalBytes: 512 } });
    const on = (v: number[], pi: 0 | 1) => env(v, { device: () => nvme(pi) });
    const gcm8 = `capi:gcm(aes)-plain64 ${key(32)} 0 /dev/nvme0n1 0 1 integrity:8:aead`;
    expect(refusal(gcm8, on([6, 1], 0))).toBe('Integrity profile not supported.');
    expect(expectCryptCtr(gcm8, on([6, 12], 0))).toMatchObject({ ok: true, tagSize: 8, tupleSize: 8, authTagSize: 8, storedIvSize: 0 });
    expect(refusal(gcm8, on([6, 12], 1))).toBe('Integrity profile not supported.');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/nvme0n1 0 1 integrity:28:aead`, on([6, 12], 0))).toBe('Integrity profile tag size mismatch.');
  });

  it('refuses an auth tag the AEAD cannot make (gcm: 4, 8, 12-16; authenc: up to the digest)', () => {
    // 22 - 12 = 10; 16 - 16 = 0; 8 - 12 wraps
    expect(refusal(`${GCM} ${key(32)} 0 /dev/i28 0 1 integrity:22:aead`, env([6, 1], { device: () => integrity(22) }))).toBe('Integrity AEAD auth tag size is not supported.');
    expect(refusal(`${AUTHENC} ${key(96)} 0 /dev/i16 0 1 integrity:16:aead`)).toBe('Integrity AEAD auth tag size is not supported.');
    expect(refusal(`${GCM} ${key(32)} 0 /dev/x 0 1 integrity:8:aead`, env([6, 1], { device: () => integrity(8) }))).toBe('Integrity AEAD auth tag size is not supported.');
    expect(expectCryptCtr(`${AUTHENC} ${key(96)} 0 /dev/i32 0 1 integrity:32:aead`, k61)).toMatchObject({ ok: true, authTagSize: 16 });
  });

  it('stores a random IV without AEAD (integrity:<n>:none): exactly the IV on 6.1, any tuple it fits in on 6.12', () => {
    expect(expectCryptCtr(`aes-xts-random ${key(64)} 0 /dev/i16 0 1 integrity:16:none`, k61)).toMatchObject({ ok: true, aead: false, storedIvSize: 16, usesIntegrity: true });
    expect(refusal(`aes-xts-random ${key(64)} 0 /dev/i32 0 1 integrity:32:none`)).toBe('Not enough space for integrity tag in the profile.');
    expect(expectCryptCtr(`aes-xts-random ${key(64)} 0 /dev/i32 0 1 integrity:32:none`, k612)).toMatchObject({ ok: true, tupleSize: 32 });
    expect(refusal(`aes-xts-random ${key(64)} 0 /dev/i16 0`)).toBe('Integrity profile tag size mismatch.');
    expect(refusal(`aes-xts-random ${key(64)} 0 /dev/vda 0`)).toBe('Integrity profile not supported.');
    // a sector-derived IV needs no integrity at all: integrity:<n>:none is then not looked at
    expect(expectCryptCtr(`aes-xts-plain64 ${key(64)} 0 /dev/vda 0 1 integrity:32:none`, k61)).toMatchObject({ ok: true, usesIntegrity: false });
  });
});
