import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectCtr, type CtrDevice, type CtrEnv } from './ctr.ts';
import { ctrKernel } from './ctr-kernel.ts';
import { ModelInputError } from '../errors.ts';
import { encodeIntegritySuperblock, SB_BYTES } from './superblock.ts';
import { planIntegrityFormat } from './format.ts';

const MIB = 2048;
const zeros = (sectors: number): CtrDevice => ({ sectors, read: () => Buffer.alloc(SB_BYTES) });
const withSb = (sectors: number, sb: Buffer): CtrDevice => ({ sectors, read: (at) => (at === 0 ? sb : Buffer.alloc(SB_BYTES)) });
const failing = (sectors: number): CtrDevice => ({ sectors, read: () => 'eio' });

function env(devices: Record<string, CtrDevice>, o: Partial<CtrEnv> = {}): CtrEnv {
  return { kernel: ctrKernel([6, 1, 192]), length: 8, device: (p) => devices[p], ramPages: 256 * 1024, ...o };
}

/** A superblock as integritysetup formats a 32 MiB disk: crc32c, 512-byte blocks, fix_padding. */
const formatted = encodeIntegritySuperblock(planIntegrityFormat({ deviceSectors: 32 * MIB, tagSize: 4, fixPadding: true, internalHash: true }));
const disks = { '/dev/vda': zeros(32 * MIB), '/dev/vdb': withSb(32 * MIB, formatted), '/dev/vdc': zeros(8 * MIB), '/dev/err': failing(32 * MIB), '/dev/tiny': zeros(16) };
const e = env(disks);
const refusal = (line: string, x: CtrEnv = e) => {
  const r = expectCtr(line, x);
  if (r.ok) throw new Error(`expected a refusal of '${line}'`);
  return r.error;
};

describe('expectCtr: the argument scan', () => {
  it('refuses in the kernel order, first failing argument first', () => {
    expect(refusal('/dev/vda 0 4 J')).toBe('Invalid argument count');
    expect(expectCtr('/dev/nope 0 x Q 1 foo', e)).toMatchObject({ error: 'Device lookup failed', errno: undefined });
    expect(refusal('/dev/vda abc 4 J 0')).toBe('Invalid starting offset');
    expect(refusal('/dev/vda 0 0 J 0')).toBe('Invalid tag size');
    expect(refusal('/dev/vda 0 4 X 0')).toBe('Invalid mode (expecting J, B, D, R)');
    expect(refusal('/dev/vda 0 4 I 0')).toBe('Invalid mode (expecting J, B, D, R)');
    expect(refusal('/dev/vda 0 4 J 2 fix_padding')).toBe('Invalid number of feature args');
    expect(refusal(`/dev/vda 0 4 J 19 ${'fix_padding '.repeat(19)}`)).toBe('Invalid number of feature args');
    expect(refusal('/dev/vda 0 4 J 1 block_size:1000')).toBe('Invalid block_size argument');
    expect(refusal('/dev/vda 0 4 J 1 block_size:4096x')).toBe('Invalid argument');
    expect(refusal('/dev/vda 0 4 J 1 journal_watermark:101')).toBe('Invalid argument');
    expect(refusal('/dev/vda 0 4 J 1 internal_hash:crc32c:123')).toBe('Invalid internal_hash argument');
    expect(refusal('/dev/vda 0 4 J 1 journal_mac:hmac(sha256):zz')).toBe('Invalid journal_mac argument');
    expect(refusal('/dev/vda 0 4 J 1 meta_device:/dev/nope')).toBe('Device lookup failed');
  });

  it('knows what each kernel accepts: 5.10 lacks reset_recalculate and fix_hmac and allows 16 options; 6.12 has mode I', () => {
    const k510 = env(disks, { kernel: ctrKernel([5, 10, 223]) });
    expect(refusal('/dev/vda 0 4 J 2 internal_hash:crc32c reset_recalculate', k510)).toBe('Invalid argument');
    expect(refusal('/dev/vda 0 4 J 1 fix_hmac', k510)).toBe('Invalid argument');
    expect(refusal(`/dev/vda 0 4 J 17 ${'fix_padding '.repeat(17)}`, k510)).toBe('Invalid number of feature args');
    expect(expectCtr(`/dev/vda 0 4 J 17 ${'fix_padding '.repeat(16)}internal_hash:crc32c`, e)).toMatchObject({ ok: true });
    const k612 = env(disks, { kernel: ctrKernel([6, 12, 118]) });
    expect(refusal('/dev/vda 0 4 I 1 internal_hash:crc32c', k612)).toBe('Integrity profile not supported');
    expect(refusal('/dev/vda 0 4 I 0', k612)).toBe('Internal hash not set in inline mode');
    expect(() => expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c allow_discards_keyed', k612)).toThrow(ModelInputError);
    expect(refusal('/dev/vda 0 300 J 1 internal_hash:crc32c')).toBe('Too big tag size');
    expect(expectCtr('/dev/vda 0 300 J 1 internal_hash:crc32c', k510)).toMatchObject({ ok: true, tagSize: 300 });
  });

  it('checks algorithms and keys like get_mac() and create_journal()', () => {
    expect(expectCtr('/dev/vda 0 4 J 1 internal_hash:nosuch', e)).toMatchObject({ ok: false, error: 'Invalid internal hash', errno: 'ENOENT' });
    expect(expectCtr('/dev/vda 0 4 J 1 internal_hash:crc32c:0102', e)).toMatchObject({ ok: false, error: 'Error setting internal hash key', errno: 'EINVAL' });
    expect(expectCtr('/dev/vda 0 32 J 1 internal_hash:hmac(sha256)', e)).toMatchObject({ ok: false, error: 'Error setting internal hash key', errno: 'ENOKEY' });
    expect(expectCtr('/dev/vda 0 32 J 1 internal_hash:sha256:00', e)).toMatchObject({ ok: false, errno: 'ENOSYS' });
    expect(expectCtr('/dev/vda 0 - J 1 internal_hash:sha256', e)).toMatchObject({ ok: true, tagSize: 32 });
    expect(refusal('/dev/vda 0 - J 0')).toBe('Unknown tag size');
    expect(refusal('/dev/vda 0 4 B 0')).toBe('Bitmap mode can be only used with internal hash');
    expect(refusal('/dev/vda 0 4 J 1 allow_discards')).toBe('Discard can be only used with internal hash');
    expect(expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c journal_crypt:nosuch', e)).toMatchObject({ ok: false, error: 'Invalid journal cipher' });
    expect(refusal('/dev/vda 0 4 D 2 internal_hash:crc32c journal_crypt:ctr(aes):0102')).toBe('Error setting encryption key');
    expect(expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c journal_crypt:ctr(aes)', e)).toMatchObject({ ok: false, error: 'Unable to encrypt journal', errno: 'ENOKEY' });
    expect(refusal('/dev/vda 0 4 J 2 internal_hash:crc32c journal_crypt:cbc(aes)')).toBe('Unable to generate iv');
    // recovery mode never builds the journal, so a bad journal cipher goes unnoticed
    expect(expectCtr('/dev/vda 0 4 R 2 internal_hash:crc32c journal_crypt:nosuch', e)).toMatchObject({ ok: true, writesSuperblock: false });
    expect(() => expectCtr('/dev/vda 0 4 J 1 internal_hash:md5', e)).toThrow(/not modelled/);
  });

  it('sizes blake2b-N and xxhash64 tags from the digest and keys them like their setkey()', () => {
    expect(expectCtr('/dev/vda 0 - J 1 internal_hash:blake2b-256', e)).toMatchObject({ ok: true, tagSize: 32 });
    expect(expectCtr('/dev/vda 0 - B 1 internal_hash:blake2b-160', e)).toMatchObject({ ok: true, tagSize: 20 });
    expect(expectCtr('/dev/vda 0 - D 1 internal_hash:xxhash64', e)).toMatchObject({ ok: true, tagSize: 8 });
    expect(expectCtr(`/dev/vda 0 - J 1 internal_hash:blake2b-512:${'ab'.repeat(64)}`, e)).toMatchObject({ ok: true, tagSize: 64 });
    expect(expectCtr(`/dev/vda 0 - J 1 internal_hash:blake2b-384:${'ab'.repeat(65)}`, e)).toMatchObject({ ok: false, error: 'Error setting internal hash key', errno: 'EINVAL' });
    expect(expectCtr('/dev/vda 0 8 J 1 internal_hash:xxhash64:0102030405060708', e)).toMatchObject({ ok: true });
    expect(expectCtr('/dev/vda 0 8 J 1 internal_hash:xxhash64:01020304', e)).toMatchObject({ ok: false, error: 'Error setting internal hash key', errno: 'EINVAL' });
  });
});

describe('expectCtr: the superblock', () => {
  it('formats an all-zero device as the format plan says, and only outside recovery mode writes it', () => {
    const r = expectCtr('/dev/vda 0 4 D 3 internal_hash:crc32c journal_sectors:1000 interleave_sectors:4096', e);
    expect(r).toMatchObject({ ok: true, formats: true, writesSuperblock: true });
    if (!r.ok) return;
    const plan = planIntegrityFormat({ deviceSectors: 32 * MIB, tagSize: 4, journalSectors: 1000, interleaveSectors: 4096, internalHash: true });
    expect(r.superblock).toMatchObject({ journalSections: plan.journalSections, log2InterleaveSectors: 12, providedDataSectors: plan.providedDataSectors, version: 1 });
    expect(r.providedDataSectors).toBe(plan.providedDataSectors);
    // legacy padding (no fix_padding) leaves room for fewer data sectors than fix_padding
    const legacy = expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c interleave_sectors:4096', e);
    const fixed = expectCtr('/dev/vda 0 4 J 3 internal_hash:crc32c interleave_sectors:4096 fix_padding', e);
    expect(legacy.ok && fixed.ok && legacy.providedDataSectors < fixed.providedDataSectors).toBe(true);
    expect(expectCtr('/dev/vda 0 4 B 1 internal_hash:crc32c', e)).toMatchObject({ ok: true, superblock: { version: 3 } });
    expect(expectCtr('/dev/vda 0 4 R 1 internal_hash:crc32c', e)).toMatchObject({ ok: true, formats: true, writesSuperblock: false });
  });

  it('refuses what the superblock or the device sizes contradict', () => {
    expect(expectCtr('/dev/err 0 4 J 1 internal_hash:crc32c', e)).toMatchObject({ ok: false, error: 'Error reading superblock', errno: 'EIO' });
    expect(refusal('/dev/vda 65530 4 J 1 internal_hash:crc32c')).toBe('Error reading superblock');
    expect(refusal('/dev/tiny 0 4 J 1 internal_hash:crc32c')).toBe('Could not initialize superblock');
    expect(refusal('/dev/vda 0 4 J 2 internal_hash:crc32c journal_sectors:4000000000')).toBe('Could not initialize superblock');
    expect(refusal('/dev/vdb 0 8 J 1 internal_hash:crc32c')).toBe("Tag size doesn't match the information in superblock");
    expect(refusal('/dev/vdb 0 4 J 2 internal_hash:crc32c block_size:4096')).toBe("Block size doesn't match the information in superblock");
    expect(refusal('/dev/vda 0 4 J 2 internal_hash:crc32c meta_device:/dev/vdb')).toBe('Invalid interleave_sectors in the superblock');
    expect(refusal('/dev/vdb 0 4 J 2 internal_hash:crc32c journal_mac:hmac(sha256):00')).toBe('Journal mac mismatch');
    expect(refusal('/dev/vdb 0 4 J 1 internal_hash:crc32c', env(disks, { length: 64 * MIB }))).toBe('Not enough provided sectors for requested mapping size');
    const small = { ...disks, '/dev/cut': withSb(64, formatted) };
    expect(refusal('/dev/cut 0 4 J 1 internal_hash:crc32c', env(small))).toBe('The device is too small');
    const garbage = Buffer.alloc(SB_BYTES, 0x5a);
    const dirty = { ...disks, '/dev/junk': withSb(32 * MIB, garbage) };
    expect(refusal('/dev/junk 0 4 J 1 internal_hash:crc32c', env(dirty))).toBe('The device is not initialized');
    expect(expectCtr('/dev/junk 0 4 R 1 internal_hash:crc32c', env(dirty))).toMatchObject({ ok: true, writesSuperblock: false });
    const v9 = Buffer.from(formatted);
    v9[8] = 9;
    expect(refusal('/dev/v9 0 4 J 1 internal_hash:crc32c', env({ '/dev/v9': withSb(32 * MIB, v9) }))).toBe('Unknown version');
  });

  it('keeps an existing superblock and sizes the device by it', () => {
    const r = expectCtr('/dev/vdb 0 4 J 3 internal_hash:crc32c journal_sectors:99 interleave_sectors:8', e);
    expect(r).toMatchObject({ ok: true, formats: false, writesSuperblock: false });
    if (r.ok) expect(r.superblock.log2InterleaveSectors).toBe(15);
  });

  it('refuses recalculation without an internal hash, and with keyed tags unless legacy_recalculate', () => {
    expect(refusal('/dev/vda 0 4 J 1 recalculate')).toBe('Recalculate can only be specified with internal_hash');
    expect(expectCtr('/dev/vda 0 32 J 2 internal_hash:hmac(sha256):0011 recalculate', e)).toMatchObject({ ok: false, errno: 'EOPNOTSUPP' });
    expect(expectCtr('/dev/vda 0 32 J 3 internal_hash:hmac(sha256):0011 recalculate legacy_recalculate', e)).toMatchObject({ ok: true });
    expect(expectCtr('/dev/vda 0 32 J 4 internal_hash:hmac(sha256):0011 recalculate fix_hmac journal_mac:hmac(sha256):22', e)).toMatchObject({ ok: true });
    expect(expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c recalculate', e)).toMatchObject({ ok: true, superblock: { version: 2 } });
  });

  it('checks the superblock MAC of a fix_hmac superblock outside recovery mode', () => {
    const f = planIntegrityFormat({ deviceSectors: 32 * MIB, tagSize: 32, fixPadding: true, fixHmac: true, internalHash: true, journalMac: true, salt: Buffer.alloc(16, 7) });
    const sb = encodeIntegritySuperblock(f);
    const key = Buffer.from('2233', 'hex');
    createHmac('sha256', key).update(sb.subarray(0, 480)).digest().copy(sb, 480);
    const line = (dev: string, mode: string) => `${dev} 0 32 ${mode} 3 internal_hash:hmac(sha256):0011 journal_mac:hmac(sha256):2233 fix_hmac`;
    const good = { '/dev/good': withSb(32 * MIB, sb) };
    expect(expectCtr(line('/dev/good', 'J'), env(good))).toMatchObject({ ok: true, formats: false });
    const bad = Buffer.from(sb);
    bad[100]! ^= 1;
    expect(expectCtr(line('/dev/bad', 'J'), env({ '/dev/bad': withSb(32 * MIB, bad) }))).toMatchObject({ ok: false, error: 'Error reading superblock', errno: 'EILSEQ' });
    expect(expectCtr(line('/dev/bad', 'R'), env({ '/dev/bad': withSb(32 * MIB, bad) }))).toMatchObject({ ok: true });
  });

  it('refuses a journal larger than the guest memory', () => {
    const big: CtrDevice = { sectors: 2 ** 31, read: () => Buffer.alloc(SB_BYTES) };
    expect(expectCtr('/dev/big 0 4 J 2 internal_hash:crc32c journal_sectors:3000000', env({ '/dev/big': big }, { ramPages: 65536 })))
      .toMatchObject({ ok: false, error: "Journal doesn't fit into memory", errno: 'ENOMEM' });
  });

  it('with a metadata device, formats the journal beside the tags and refuses a metadata device too small', () => {
    const r = expectCtr('/dev/vda 0 4 J 2 internal_hash:crc32c meta_device:/dev/vdc', e);
    expect(r).toMatchObject({ ok: true, superblock: { log2InterleaveSectors: 0, version: 2 }, providedDataSectors: 32 * MIB });
    const tinyMeta = { ...disks, '/dev/m': zeros(64) };
    expect(refusal('/dev/vda 0 4 J 2 internal_hash:crc32c meta_device:/dev/m', env(tinyMeta))).toBe('Could not initialize superblock');
  });
});
