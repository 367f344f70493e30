import { describe, expect, it } from 'vitest';
import { parseCryptCipher } from '../../model/crypt/cipher.ts';
import { judgeLuksSegment, judgeLuksTables, luksFormatArgv, luksOpenArgv, luksTableProblems, parseDmTable } from './luks-stack.ts';

const gcm = parseCryptCipher('capi:gcm(aes)-random');
const plain64 = parseCryptCipher('capi:authenc(hmac(sha256),xts(aes))-plain64');
const stack = { type: 'luks2', disk: 'data', cipher: 'aes-gcm-random', integrity: 'aead', sectorSize: 512, integrityNoWipe: false, allowDiscards: false } as const;

// `dmsetup table` in a Debian 6.1 guest after `cryptsetup open` of luksFormat --integrity (cryptsetup 2.6.1)
const gcmCrypt = 'ih-luks: 0 61240 crypt capi:gcm(aes)-random :32:logon:cryptsetup:510a6d01-3b72-4662-b662-58e17d650fe4-d0 0 253:0 0 1 integrity:28:aead';
const gcmIntegrity = '0 61240 integrity 254:0 32768 28 J 6 journal_sectors:704 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 fix_padding';
const hmacCrypt = '0 60728 crypt capi:authenc(hmac(sha256),xts(aes))-plain64 :96:logon:cryptsetup:69506d90-83f1-4c9c-8b87-b8daecf6d399-d0 0 253:0 0 1 integrity:32:aead';
const hmacIntegrity = '0 60728 integrity 254:0 32768 32 J 6 journal_sectors:704 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 fix_padding';

describe('cryptsetup argv', () => {
  it('asks luksFormat for the key size without the MAC key, and for the harness files and fast pbkdf2', () => {
    expect(luksFormatArgv(stack, gcm, 32, '/dev/vda')).toEqual([
      'cryptsetup', 'luksFormat', '--batch-mode', '--type', 'luks2', '--cipher', 'aes-gcm-random', '--integrity', 'aead', '--key-size', '256',
      '--sector-size', '512', '--volume-key-file', '/tmp/ih-luks.vk', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
      '--key-file', '/tmp/ih-luks.pass', '/dev/vda',
    ]);
    const hmac = luksFormatArgv({ ...stack, cipher: 'aes-xts-plain64', integrity: 'hmac-sha256', sectorSize: 4096, integrityNoWipe: true }, plain64, 96, '/dev/vdb');
    expect(hmac.slice(hmac.indexOf('--key-size'), hmac.indexOf('--key-size') + 2)).toEqual(['--key-size', '512']);
    expect(hmac.slice(-2)).toEqual(['--integrity-no-wipe', '/dev/vdb']);
    expect(luksOpenArgv('/dev/vda', true)).toEqual(['cryptsetup', 'open', '--type', 'luks2', '--key-file', '/tmp/ih-luks.pass', '--allow-discards', '/dev/vda', 'ih-luks']);
  });
});

describe('the tables cryptsetup loaded, against the model', () => {
  const want = { cipher: gcm, keyBytes: 32, ivOffset: 0, sectorSize: 512, sectors: 61240, dataOffsetSectors: 32768 };

  it('agree for what Debian 6.1 showed, aead and hmac-sha256', () => {
    expect(luksTableProblems(parseDmTable(gcmCrypt.replace(/^ih-luks: /, '')), parseDmTable(gcmIntegrity), want)).toEqual([]);
    expect(luksTableProblems(parseDmTable(hmacCrypt), parseDmTable(hmacIntegrity), { ...want, cipher: plain64, keyBytes: 96, sectors: 60728 })).toEqual([]);
  });

  it('name each difference: cipher, key length, offsets, tag and sector size, an internal hash', () => {
    const p = luksTableProblems(parseDmTable(hmacCrypt), parseDmTable(hmacIntegrity.replace('32768 32 J', '0 32 J').replace('fix_padding', 'internal_hash:crc32c')), { ...want, sectorSize: 4096 });
    expect(p).toEqual([
      'crypt length: expected 61240, got 60728',
      'crypt cipher: expected capi:gcm(aes)-random, got capi:authenc(hmac(sha256),xts(aes))-plain64',
      'crypt key bytes: expected 32, got 96',
      "crypt options: expected integrity:28:aead, got 'integrity:32:aead'",
      'crypt sector_size: expected 4096, got 512',
      'integrity length: expected 61240, got 60728',
      'integrity offset on the disk: expected 32768, got 0',
      'integrity tag size: expected 28, got 32',
      "integrity options: an internal hash under dm-crypt AEAD: 'journal_sectors:704 interleave_sectors:32768 buffer_sectors:128 journal_watermark:50 commit_time:10000 internal_hash:crc32c'",
      'integrity block_size: expected 4096, got 512',
    ]);
    expect(luksTableProblems([], parseDmTable(gcmIntegrity), want)).toEqual(["crypt table: expected one crypt target, got ''"]);
  });

  it('judge a doctored table: dm-integrity beneath in bitmap mode, a disagreement for the stack', () => {
    expect(judgeLuksTables(gcmCrypt.replace(/^ih-luks: /, ''), gcmIntegrity, want)).toEqual([]);
    expect(judgeLuksTables(gcmCrypt.replace(/^ih-luks: /, ''), gcmIntegrity.replace(' 28 J ', ' 28 B '), want)).toEqual([
      { step: -1, kind: 'luks2-table', expected: 'the stack the model built from the header', found: 'integrity mode: expected J, got B' },
    ]);
  });
});

describe('the header luksFormat wrote, against what it was asked for', () => {
  // the data segment of a Debian 6.1 guest's luksFormat --integrity aead (cryptsetup 2.6.1)
  const seg = { id: '0', offset: 16777216, size: 'dynamic', ivTweak: 0, encryption: 'aes-gcm-random', sectorSize: 512, integrity: 'aead', volumeKeyBytes: 32, keyslotsEnd: 16777216 } as const;

  it('agrees with what was asked, and finds a doctored header: another sector size and a data offset inside the key slots', () => {
    expect(judgeLuksSegment(seg, stack, 32)).toEqual([]);
    expect(judgeLuksSegment({ ...seg, sectorSize: 4096, keyslotsEnd: seg.offset + 4096 }, stack, 32)).toEqual([
      { step: -1, kind: 'luks2-header', expected: 'sector_size 512', found: '4096' },
      { step: -1, kind: 'luks2-header', expected: `data offset at or after the key slots area end ${seg.offset + 4096}`, found: String(seg.offset) },
    ]);
  });
});
