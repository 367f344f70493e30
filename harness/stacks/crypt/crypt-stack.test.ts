import { describe, expect, it } from 'vitest';
import { parseCryptCipher } from '../../model/crypt/cipher.ts';
import { aeadErrorSectors, classifyCryptCreateFailure, cryptoDriver, cryptTable, integrityTable, targetError } from './crypt-stack.ts';

const gcm = parseCryptCipher('capi:gcm(aes)-random');
const authenc = parseCryptCipher('capi:authenc(hmac(sha256),xts(aes))-random');

describe('tables', () => {
  it('builds dm-integrity without internal hash, with the tuple as tag size', () => {
    expect(integrityTable({ device: '/dev/vda', sectors: 122928, tagSize: 28, mode: 'journal', blockSize: 512, fixPadding: true }))
      .toBe('0 122928 integrity /dev/vda 0 28 J 1 fix_padding');
    expect(integrityTable({ device: '/dev/vda', sectors: 8, tagSize: 48, mode: 'direct', blockSize: 4096, fixPadding: true }))
      .toBe('0 8 integrity /dev/vda 0 48 D 2 block_size:4096 fix_padding');
    // a target before 1.4.0 (4.13's 1.0.0) has no fix_padding: the table leaves it out, as cryptsetup does
    expect(integrityTable({ device: '/dev/vda', sectors: 122928, tagSize: 28, mode: 'journal', blockSize: 512, fixPadding: false }))
      .toBe('0 122928 integrity /dev/vda 0 28 J 0');
  });

  it('builds dm-crypt with integrity:<tuple>:aead and sector_size only when not 512', () => {
    const key = Buffer.alloc(32, 0xab);
    expect(cryptTable({ sectors: 100, cipher: gcm, key, lower: '/dev/mapper/ih-int', sectorSize: 512 }))
      .toBe(`0 100 crypt capi:gcm(aes)-random ${'ab'.repeat(32)} 0 /dev/mapper/ih-int 0 1 integrity:28:aead`);
    expect(cryptTable({ sectors: 800, cipher: authenc, key: Buffer.alloc(96, 1), lower: '/dev/mapper/ih-int', sectorSize: 4096 }))
      .toMatch(/^0 800 crypt capi:authenc\(hmac\(sha256\),xts\(aes\)\)-random (01){96} 0 \/dev\/mapper\/ih-int 0 2 integrity:48:aead sector_size:4096$/);
  });

  it('puts allow_discards in the feature list of either layer when asked', () => {
    expect(integrityTable({ device: '/dev/vda', sectors: 8, tagSize: 28, mode: 'journal', blockSize: 512, allowDiscards: true, fixPadding: true }))
      .toBe('0 8 integrity /dev/vda 0 28 J 2 fix_padding allow_discards');
    expect(cryptTable({ sectors: 100, cipher: gcm, key: Buffer.alloc(32, 0xab), lower: '/dev/mapper/ih-int', sectorSize: 512, allowDiscards: true }))
      .toBe(`0 100 crypt capi:gcm(aes)-random ${'ab'.repeat(32)} 0 /dev/mapper/ih-int 0 2 allow_discards integrity:28:aead`);
  });

  it('puts the performance flags among the optional arguments and counts them', () => {
    expect(cryptTable({ sectors: 100, cipher: gcm, key: Buffer.alloc(32, 0xab), lower: '/dev/mapper/ih-int', sectorSize: 4096, flags: ['no_read_workqueue', 'same_cpu_crypt'] }))
      .toBe(`0 100 crypt capi:gcm(aes)-random ${'ab'.repeat(32)} 0 /dev/mapper/ih-int 0 4 no_read_workqueue same_cpu_crypt integrity:28:aead sector_size:4096`);
  });
});

describe('the kernel refusing allow_discards on dm-integrity without an internal hash', () => {
  it('is read from the log line Debian 6.1 printed', () => {
    const log = `[   27.873490] device-mapper: table: 253:0: integrity: Discard can be only used with internal hash (-EINVAL)
[   27.874134] device-mapper: ioctl: error adding target to table`;
    expect(targetError(log, 'integrity')).toBe('253:0: integrity: Discard can be only used with internal hash (-EINVAL)');
  });
});

// Lines as a Debian 6.1 guest printed them (console.log of the harness's runs).
const enoentLog = `[    8.453970] device-mapper: table: 253:1: crypt: Error allocating crypto tfm (-ENOENT)
[    8.454621] device-mapper: ioctl: error adding target to table`;
const enoentStderr = 'device-mapper: reload ioctl on ih-crypt (253:1) failed: No such file or directory\nCommand failed.\n';
const procCrypto = `name         : gcm(aes)
driver       : gcm_base(ctr(aes-generic),ghash-clmulni)
module       : gcm
priority     : 250

name         : sha256
driver       : sha256-generic
module       : kernel
`;

describe('kernel messages', () => {
  it('reads the sectors of INTEGRITY AEAD ERROR lines', () => {
    const log = `[   10.572878] trusted_key: device-mapper: crypt: dm-0: INTEGRITY AEAD ERROR, sector 4096
[   10.575964] trusted_key: device-mapper: crypt: dm-0: INTEGRITY AEAD ERROR, sector 4097
[   10.6] other line`;
    expect(aeadErrorSectors(log)).toEqual([4096, 4097]);
  });

  it('finds the driver of an instantiated algorithm in /proc/crypto', () => {
    expect(cryptoDriver(procCrypto, 'gcm(aes)')).toBe('gcm_base(ctr(aes-generic),ghash-clmulni)');
    expect(cryptoDriver(procCrypto, 'rfc7539(chacha20,poly1305)')).toBeUndefined();
    expect(targetError(enoentLog, 'crypt')).toBe('253:1: crypt: Error allocating crypto tfm (-ENOENT)');
  });

  it('skips only when the kernel cannot allocate the cipher and /proc/crypto does not have it', () => {
    const chacha = parseCryptCipher('capi:rfc7539(chacha20,poly1305)-random');
    expect(classifyCryptCreateFailure(chacha, enoentStderr, enoentLog, procCrypto)).toEqual({
      verdict: 'skip',
      reason: 'kernel lacks the AEAD rfc7539(chacha20,poly1305) for capi:rfc7539(chacha20,poly1305)-random (dm-crypt: 253:1: crypt: Error allocating crypto tfm (-ENOENT); not in /proc/crypto)',
    });
    // listed yet not allocatable: the kernel is failing, not lacking
    expect(classifyCryptCreateFailure(gcm, enoentStderr, enoentLog, procCrypto).verdict).toBe('fail');
  });

  it('fails on any other constructor error', () => {
    const log = `[    9.144628] device-mapper: table: 253:1: crypt: Integrity profile sector size mismatch. (-EINVAL)`;
    expect(classifyCryptCreateFailure(gcm, 'device-mapper: reload ioctl on ih-crypt (253:1) failed: Invalid argument', log, '')).toEqual({
      verdict: 'fail', reason: 'dmsetup create ih-crypt (capi:gcm(aes)-random) failed: 253:1: crypt: Integrity profile sector size mismatch. (-EINVAL)',
    });
    expect(classifyCryptCreateFailure(gcm, 'Command failed.', '', '').verdict).toBe('fail');
  });
});
