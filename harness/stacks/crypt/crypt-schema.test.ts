import { describe, expect, it } from 'vitest';
import { scenarioLoader } from '../../scenario/test-loader.ts';

const { dir, load, errorOf } = scenarioLoader('ih-crypt-schema-');

function scenario(stack: Record<string, unknown>, steps: unknown[] = [{ write: { offset: 0, length: '64KiB' } }, { read: { offset: 0, length: '64KiB' } }], size: unknown = '64MiB') {
  return {
    description: 'A crypt-aead scenario used by the loader tests.',
    disks: [{ name: 'data', size }],
    stack: { type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random', ...stack },
    steps,
  };
}

describe('crypt-aead stack in scenario files', () => {
  it('fills in the defaults: 512-byte sectors, journal mode, no discards, no flags, no key (the host derives one)', async () => {
    const s = await load(scenario({}));
    expect(s.stack).toEqual({ type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random', sectorSize: 512, mode: 'journal', allowDiscards: false, flags: [] });
  });

  it('accepts each cipher with a key of a length it takes', async () => {
    for (const [cipher, key] of [
      ['capi:gcm(aes)-random', '00'.repeat(16)],
      ['capi:authenc(hmac(sha256),xts(aes))-random', '01'.repeat(16) + '02'.repeat(16) + '03'.repeat(32)],
      ['capi:rfc7539(chacha20,poly1305)-random', 'ab'.repeat(32)],
    ]) {
      expect((await load(scenario({ cipher, key, sectorSize: 4096 }))).stack).toMatchObject({ cipher, key, sectorSize: 4096 });
    }
  });

  it('names the file, the field and the accepted ciphers for an unknown cipher', async () => {
    const msg = await errorOf(scenario({ cipher: 'aes-xts-plain64' }));
    expect(msg).toContain('case.yaml: stack.cipher:');
    expect(msg).toContain('capi:gcm(aes)-random');
    expect(msg).toContain('capi:rfc7539(chacha20,poly1305)-random');
  });

  it('refuses a sector size other than 512 or 4096', async () => {
    expect(await errorOf(scenario({ sectorSize: 1024 }))).toMatch(/case\.yaml: stack\.sectorSize: expected one of 512, 4096; got 1024/);
  });

  it('refuses a key that is not hex, of the wrong length, or an XTS key with equal halves', async () => {
    expect(await errorOf(scenario({ key: 'xyz' }))).toMatch(/case\.yaml: stack\.key: expected an even number of lower-case hex digits/);
    expect(await errorOf(scenario({ key: '00'.repeat(20) }))).toMatch(/case\.yaml: stack\.key: capi:gcm\(aes\)-random needs a key of 16 bytes .* got 20 bytes/);
    const sameHalves = '07'.repeat(64) + '08'.repeat(32);
    expect(await errorOf(scenario({ cipher: 'capi:authenc(hmac(sha256),xts(aes))-random', key: sameHalves }))).toMatch(/stack\.key: the two halves of the XTS key/);
  });

  it('refuses unknown fields and an integrity-only field on the crypt stack', async () => {
    expect(await errorOf(scenario({ hash: 'crc32c' }))).toMatch(/case\.yaml: stack: .*hash/);
  });

  it('refuses I/O and corruptions beyond what dm-integrity leaves of the disk', async () => {
    const msg = await errorOf(scenario({}, [
      { write: { offset: '63MiB', length: '1MiB' } },
      'close',
      { corrupt: { blocks: [200000], where: 'iv' } },
      'open',
    ]));
    expect(msg).toMatch(/steps\[0\]\.write: ends at 67108864, beyond the 62939136 bytes \(122928 blocks of 512\) the stack provides/);
    expect(msg).toMatch(/steps\[2\]\.corrupt\.blocks\[0\]: block 200000 is beyond/);
  });

  it('refuses a disk too small for dm-integrity', async () => {
    expect(await errorOf(scenario({}, [{ write: { offset: 0, length: 4096 } }], 8192))).toMatch(/stack\.disk: disk 'data' \(8192 bytes\) is too small/);
  });

  it("accepts corrupt.where 'iv' only on crypt-aead and luks2 stacks, and only for ciphers that store an IV", async () => {
    const steps = [{ write: { offset: 0, length: 4096 } }, 'close', { corrupt: { blocks: [1], where: 'iv' } }, 'open'];
    await expect(load(scenario({}, steps))).resolves.toBeDefined();
    const integrity = { ...scenario({}, steps), stack: { type: 'integrity', disk: 'data' } };
    expect(await errorOf(integrity)).toMatch(/steps\[2\]\.corrupt\.where: 'iv' exists only in crypt-aead and luks2 stacks/);
    expect(await errorOf(scenario({ cipher: 'capi:authenc(hmac(sha256),xts(aes))-plain64' }, steps)))
      .toMatch(/case\.yaml: steps\[2\]\.corrupt\.where: capi:authenc\(hmac\(sha256\),xts\(aes\)\)-plain64 stores no IV \(plain64 IVs come from the sector number\); use data or tag/);
  });

  it('accepts discard steps on an open stack, inside the device, in whole sectors; refuses steps only integrity cells run', async () => {
    const ok = await load(scenario({ allowDiscards: true }, [{ discard: { offset: '4KiB', length: '64KiB' } }, { read: { offset: 0, length: 4096 } }]));
    expect(ok.steps[0]).toEqual({ discard: { offset: 4096, length: 65536 } });
    const msg = await errorOf(scenario({}, ['close', { discard: { offset: 100, length: 512 } }, 'open', { discard: { offset: '63MiB', length: '1MiB' } }]));
    expect(msg).toMatch(/steps\[1\]: 'discard' needs the stack open/);
    expect(msg).toMatch(/steps\[1\]\.discard\.offset: 100 is not a multiple of the stack's sector size 512/);
    expect(msg).toMatch(/steps\[3\]\.discard: ends at 67108864, beyond the 62939136 bytes/);
    const other = await errorOf(scenario({}, ['flush', { write: { offset: 0, length: 4096, unaligned: true } }, 'close', { swap: { blocks: [1, 2] } }, 'open']));
    expect(other).toMatch(/steps\[0\]: 'flush' is not supported on crypt-aead stacks yet/);
    expect(other).toMatch(/steps\[1\]\.write\.unaligned: not supported on crypt-aead stacks yet/);
    expect(other).toMatch(/steps\[3\]\.swap: not supported on crypt-aead stacks \(integrity stacks only\)/);
  });

  it('accepts crash and kill workloads inside the crypt device, refuses writes beyond it', async () => {
    const w = (offset: string) => ({ workload: [{ write: { offset, length: '1MiB', bs: '4KiB' } }, 'flush'] });
    const disks = [{ name: 'data', size: '64MiB' }, { name: 'log', size: '64MiB' }];
    await expect(load({ ...scenario({}, [{ crash: { log: 'log', ...w('0') } }]), disks })).resolves.toBeDefined();
    await expect(load(scenario({ mode: 'direct' }, [{ kill: { seed: 1, ...w('0') } }]))).resolves.toBeDefined();
    expect(await errorOf(scenario({}, [{ kill: { seed: 1, ...w('63MiB') } }]))).toMatch(/steps\[0\]\.kill\.workload\[0\]\.write: ends at 67108864, beyond the 62939136 bytes/);
  });

  it('refuses an unknown stack type, naming the field', async () => {
    expect(await errorOf(scenario({ type: 'crypt' }))).toMatch(/case\.yaml: stack\.type: .*crypt-aead/);
  });
});
