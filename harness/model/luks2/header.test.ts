/**
 * The LUKS2 header parser on headers cryptsetup really wrote: one made here by the host's cryptsetup at
 * test time (without integrity: the host has no kernel crypto API for luksFormat --integrity to check
 * its cipher with), and the guest-made ones in fixtures/ (with --integrity aead and hmac-sha256).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ModelInputError } from '../errors.ts';
import { parseLuks2Header } from './header.ts';
import { LUKS2_DEFAULT_DATA_OFFSET, luks2DataSegment, luks2SegmentCipher } from './segment.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** cryptsetup 2.x on a plain file (no device-mapper needed without --integrity), pbkdf2 so it is quick. */
function hostHeader(): { image: Buffer; uuid: string; key: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'ih-luks2-header-'));
  const file = join(dir, 'disk.img');
  writeFileSync(file, Buffer.alloc(20 * 1024 * 1024));
  const key = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) key[i] = i * 7 + 1;
  writeFileSync(join(dir, 'vk'), key);
  writeFileSync(join(dir, 'pass'), 'ih test passphrase');
  execFileSync('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks2', '--cipher', 'aes-xts-plain64', '--key-size', '512',
    '--sector-size', '4096', '--volume-key-file', join(dir, 'vk'), '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000',
    '--key-file', join(dir, 'pass'), file], { stdio: 'pipe' });
  const uuid = execFileSync('cryptsetup', ['luksUUID', file]).toString().trim();
  return { image: readFileSync(file), uuid, key };
}

describe('a header the host cryptsetup writes (luksFormat on a file)', () => {
  const { image, uuid } = hostHeader();

  it('parses both copies, checksums verified, and reads the data segment', () => {
    const h = parseLuks2Header(image, 'host.img');
    expect(h.copies.map((c) => [c.which, c.checksumOk, c.hdrOffset])).toEqual([['primary', true, 0], ['secondary', true, 16384]]);
    expect(h.active.uuid).toBe(uuid);
    expect(h.active.checksumAlg).toBe('sha256');
    const seg = luks2DataSegment(h.active.json);
    expect(seg).toMatchObject({ offset: LUKS2_DEFAULT_DATA_OFFSET, size: 'dynamic', ivTweak: 0, encryption: 'aes-xts-plain64', sectorSize: 4096, integrity: undefined, volumeKeyBytes: 64 });
    expect(seg.keyslotsEnd).toBe(seg.offset);
  });

  it('has no cipher for the model without authenticated encryption', () => {
    const seg = luks2DataSegment(parseLuks2Header(image).active.json);
    expect(() => luks2SegmentCipher(seg, 'host.img')).toThrow(/host\.img: LUKS2 segment aes-xts-plain64 with integrity none is not one the model knows/);
  });

  it('falls back to the secondary copy when the primary checksum fails, and names both when both do', () => {
    const broken = Buffer.from(image);
    broken[4096 + 10]! ^= 1; // a JSON byte of the primary
    const h = parseLuks2Header(broken);
    expect(h.active.which).toBe('secondary');
    expect(h.problems).toEqual(['primary header at 0: checksum does not match']);
    broken[16384 + 4096 + 10]! ^= 1;
    expect(() => parseLuks2Header(broken, 'both.img')).toThrow(ModelInputError);
    expect(() => parseLuks2Header(broken, 'both.img')).toThrow(/both\.img: no valid LUKS2 header \(primary header at 0: checksum does not match; secondary header at 16384: checksum does not match\)/);
  });

  it('prefers the copy with the higher seqid', () => {
    const h = parseLuks2Header(image);
    expect(h.copies[0]!.seqid).toBe(h.copies[1]!.seqid);
    expect(h.active.which).toBe('primary');
  });

  it('refuses what is not LUKS2, saying what it found', () => {
    expect(() => parseLuks2Header(Buffer.alloc(65536), 'zero.img')).toThrow(/zero\.img: no valid LUKS2 header \(primary header at 0: magic is 000000000000, not a LUKS2 header; secondary header at 16384: magic is 000000000000/);
    expect(() => parseLuks2Header(image.subarray(0, 1000))).toThrow(/primary header at 0: image ends at 1000 bytes/);
  });
});

describe.each([
  ['gcm-512', { encryption: 'aes-gcm-random', integrity: 'aead', sectorSize: 512, volumeKeyBytes: 32 }, 'capi:gcm(aes)-random'],
  ['hmac-plain64-4096', { encryption: 'aes-xts-plain64', integrity: 'hmac(sha256)', sectorSize: 4096, volumeKeyBytes: 96 }, 'capi:authenc(hmac(sha256),xts(aes))-plain64'],
] as const)('a header cryptsetup wrote in the guest with --integrity: %s', (name, want, spec) => {
  const image = gunzipSync(readFileSync(join(fixtures, `${name}.img.gz`)));

  it('gives the segment and the dm-crypt cipher cryptsetup opened it with', () => {
    const seg = luks2DataSegment(parseLuks2Header(image).active.json);
    expect(seg).toMatchObject({ ...want, offset: LUKS2_DEFAULT_DATA_OFFSET, ivTweak: 0 });
    expect(luks2SegmentCipher(seg).spec).toBe(spec);
  });
});

describe('LUKS2 JSON the model refuses', () => {
  const base = {
    keyslots: { 0: { type: 'luks2', key_size: 32 } },
    segments: { 0: { type: 'crypt', offset: '16777216', size: 'dynamic', iv_tweak: '0', encryption: 'aes-gcm-random', sector_size: 512, integrity: { type: 'aead', journal_encryption: 'none', journal_integrity: 'none' } } },
    digests: { 0: { keyslots: ['0'], segments: ['0'] } },
    config: { json_size: '12288', keyslots_size: '16744448' },
  };

  it('names the field that does not parse', () => {
    expect(() => luks2DataSegment({ ...base, segments: { 0: { ...base.segments[0], offset: 'x' } } }, 'j')).toThrow(/j: LUKS2 JSON segments\.0\.offset: expected a decimal string/);
  });

  it('refuses two crypt segments (reencryption) and key slots of different sizes', () => {
    expect(() => luks2DataSegment({ ...base, segments: { 0: base.segments[0], 1: base.segments[0] } })).toThrow(/2 crypt segments/);
    expect(() => luks2DataSegment({ ...base, keyslots: { 0: { type: 'luks2', key_size: 32 }, 1: { type: 'luks2', key_size: 64 } }, digests: { 0: { keyslots: ['0', '1'], segments: ['0'] } } }))
      .toThrow(/key slots of 32, 64 key sizes/);
  });
});
