import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadSeal, openSector, plain64Iv, sealSector, sectorAad } from './aead.ts';
import { cryptKeyProblems, deriveCryptKey, parseCryptCipher, CRYPT_AEAD_SPECS } from './cipher.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const gcm = parseCryptCipher('capi:gcm(aes)-random');
const authenc = parseCryptCipher('capi:authenc(hmac(sha256),xts(aes))-random');
const chacha = parseCryptCipher('capi:rfc7539(chacha20,poly1305)-random');

describe('known answers from the standards', () => {
  it('AES-256-GCM: McGrew-Viega test case 16 (12-byte IV, 20-byte AAD like dm-crypt)', () => {
    const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
    const iv = hex('cafebabefacedbaddecaf888');
    const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
    const pt = hex(`d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                    1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39`);
    const ct = hex(`522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
                    8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662`);
    const tag = hex('76fc6ece0f4e1768cddf8853bb2d551b');
    expect(aeadSeal(gcm, key, iv, aad, pt)).toEqual({ ciphertext: ct, authTag: tag });
    expect(aeadOpen(gcm, key, iv, aad, ct, tag)).toEqual(pt);
    const badAad = Buffer.from(aad);
    badAad[0]! ^= 1;
    expect(aeadOpen(gcm, key, iv, badAad, ct, tag)).toBeUndefined();
  });

  it('ChaCha20-Poly1305: RFC 8439 section 2.8.2', () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x80 + i));
    const iv = hex('070000004041424344454647');
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const pt = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const ct = hex(`d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
                    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
                    92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
                    3ff4def08e4b7a9de576d26586cec64b6116`);
    const tag = hex('1ae10b594f09e26a7e902ecbd0600691');
    expect(aeadSeal(chacha, key, iv, aad, pt)).toEqual({ ciphertext: ct, authTag: tag });
    expect(aeadOpen(chacha, key, iv, aad, ct, tag)).toEqual(pt);
    const badTag = Buffer.from(tag);
    badTag[15]! ^= 0x80;
    expect(aeadOpen(chacha, key, iv, aad, ct, badTag)).toBeUndefined();
  });

  it('HMAC-SHA256: RFC 4231 test cases 1 and 2 (the MAC inside authenc)', () => {
    expect(createHmac('sha256', Buffer.alloc(20, 0x0b)).update('Hi There').digest('hex'))
      .toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    expect(createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex'))
      .toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('authenc(hmac(sha256),xts(aes)): XTS part is IEEE 1619 vector 2, MAC is HMAC over AAD || ciphertext', () => {
    // IEEE 1619-2007 vector 2 is AES-128-XTS with a 32-byte data unit; the MAC key follows the XTS key
    const xtsKey = hex('1111111111111111111111111111111122222222222222222222222222222222');
    const macKey = Buffer.alloc(32, 0x5a);
    const iv = hex('33333333330000000000000000000000');
    const aad = sectorAad(7, iv);
    const pt = Buffer.alloc(32, 0x44);
    const ct = hex('c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0');
    const s = aeadSeal(authenc, Buffer.concat([xtsKey, macKey]), iv, aad, pt);
    expect(s.ciphertext).toEqual(ct);
    expect(s.authTag).toEqual(createHmac('sha256', macKey).update(aad).update(ct).digest());
    expect(aeadOpen(authenc, Buffer.concat([xtsKey, macKey]), iv, aad, ct, s.authTag)).toEqual(pt);
    const badCt = Buffer.from(ct);
    badCt[31]! ^= 1;
    expect(aeadOpen(authenc, Buffer.concat([xtsKey, macKey]), iv, aad, badCt, s.authTag)).toBeUndefined();
  });
});

describe('sector AAD', () => {
  it('is le64(sector) || IV', () => {
    expect(sectorAad(0x0102030405, hex('aabbcc'))).toEqual(hex('0504030201000000aabbcc'));
  });

  it('plain64 IV is le64(sector) zero-padded to the IV size', () => {
    expect(plain64Iv(0x0102030405, 16)).toEqual(hex('05040302010000000000000000000000'));
    expect(() => plain64Iv(-1, 16)).toThrow(/non-negative/);
  });

  it.each(CRYPT_AEAD_SPECS)('%s: a sector moved to another sector number, or given another IV, fails', (spec) => {
    const c = parseCryptCipher(spec);
    const key = deriveCryptKey(c, 'unit');
    const iv = Buffer.alloc(c.ivSize, 3);
    const pt = Buffer.alloc(512, 0x61);
    const s = sealSector(c, key, 24, iv, pt);
    expect(openSector(c, key, 24, iv, s.ciphertext, s.authTag)).toEqual(pt);
    expect(openSector(c, key, 25, iv, s.ciphertext, s.authTag)).toBeUndefined();
    expect(openSector(c, key, 24, Buffer.alloc(c.ivSize, 4), s.ciphertext, s.authTag)).toBeUndefined();
  });
});

describe('keys', () => {
  it('derives the default length, deterministically per seed, and accepts it', () => {
    for (const c of [gcm, authenc, chacha]) {
      const k = deriveCryptKey(c, 'crypt/001');
      expect(k.length).toBe(c.defaultKeySize);
      expect(deriveCryptKey(c, 'crypt/001')).toEqual(k);
      expect(deriveCryptKey(c, 'crypt/002')).not.toEqual(k);
      expect(cryptKeyProblems(c, k)).toEqual([]);
    }
  });

  it('names the lengths a cipher takes, and refuses XTS keys with equal halves', () => {
    expect(cryptKeyProblems(gcm, Buffer.alloc(20))).toEqual(['capi:gcm(aes)-random needs a key of 16 bytes (32 hex digits) or 24 bytes (48 hex digits) or 32 bytes (64 hex digits), got 20 bytes']);
    expect(cryptKeyProblems(chacha, Buffer.alloc(16))[0]).toMatch(/32 bytes \(64 hex digits\), got 16 bytes/);
    expect(cryptKeyProblems(authenc, Buffer.concat([Buffer.alloc(64, 1), Buffer.alloc(32, 2)]))[0]).toMatch(/halves of the XTS key/);
  });
});
