import { describe, expect, it } from 'vitest';
import { scenarioLoader } from '../../scenario/test-loader.ts';

const { dir, load, errorOf } = scenarioLoader('ih-luks-schema-', 'luks.yaml');

function scenario(stack: Record<string, unknown>, steps: unknown[] = [{ write: { offset: 0, length: '64KiB' } }, { read: { offset: 0, length: '64KiB' } }], size: unknown = '32MiB') {
  return {
    description: 'A luks2 scenario used by the loader tests.',
    disks: [{ name: 'data', size }],
    stack: { type: 'luks2', disk: 'data', cipher: 'aes-gcm-random', integrity: 'aead', ...stack },
    steps,
  };
}

describe('luks2 stack in scenario files', () => {
  it('fills in the defaults: 512-byte sectors, wiped, no discards, no volume key (the host derives one)', async () => {
    expect((await load(scenario({}))).stack).toEqual({
      type: 'luks2', disk: 'data', cipher: 'aes-gcm-random', integrity: 'aead', sectorSize: 512, integrityNoWipe: false, allowDiscards: false,
    });
  });

  it('accepts both pairs with volume keys of the lengths luksFormat takes', async () => {
    await expect(load(scenario({ volumeKey: 'ab'.repeat(16) }))).resolves.toBeDefined();
    const xtsHmac = '01'.repeat(32) + '02'.repeat(32) + '03'.repeat(32);
    const s = await load(scenario({ cipher: 'aes-xts-plain64', integrity: 'hmac-sha256', volumeKey: xtsHmac, sectorSize: 4096, integrityNoWipe: true }));
    expect(s.stack).toMatchObject({ cipher: 'aes-xts-plain64', integrity: 'hmac-sha256', sectorSize: 4096, integrityNoWipe: true });
  });

  it('refuses a --cipher / --integrity pair the model does not know, listing the pairs', async () => {
    expect(await errorOf(scenario({ cipher: 'aes-xts-plain64', integrity: 'aead' })))
      .toMatch(/luks\.yaml: stack\.integrity: --cipher aes-xts-plain64 with --integrity aead is not a pair the model knows \(aes-gcm-random with aead, aes-xts-plain64 with hmac-sha256\)$/);
    expect(await errorOf(scenario({ cipher: 'serpent-xts-plain64' }))).toMatch(/luks\.yaml: stack\.cipher: .*aes-gcm-random.*aes-xts-plain64/);
    expect(await errorOf(scenario({ integrity: 'hmac-sha512' }))).toMatch(/luks\.yaml: stack\.integrity: .*aead.*hmac-sha256/);
  });

  it('refuses a volume key of the wrong length, naming the pair and what it takes', async () => {
    expect(await errorOf(scenario({ volumeKey: '00'.repeat(20) }))).toMatch(/stack\.volumeKey: aes-gcm-random \+ aead \(capi:gcm\(aes\)-random\) needs a key of 16 bytes .* got 20 bytes/);
    const xtsHmac = { cipher: 'aes-xts-plain64', integrity: 'hmac-sha256' };
    expect(await errorOf(scenario({ ...xtsHmac, volumeKey: '00'.repeat(48) })))
      .toMatch(/stack\.volumeKey: aes-xts-plain64 \+ hmac-sha256 \(capi:authenc\(hmac\(sha256\),xts\(aes\)\)-plain64\) needs a key of 64 bytes \(128 hex digits\) or 96 bytes \(192 hex digits\), got 48 bytes/);
    expect(await errorOf(scenario({ ...xtsHmac, volumeKey: '00'.repeat(64) }))).toMatch(/stack\.volumeKey: the two halves of the XTS key/);
    expect(await errorOf(scenario({ volumeKey: 'XY' }))).toMatch(/stack\.volumeKey: expected an even number of lower-case hex digits/);
  });

  it("refuses corrupt.where 'iv' for aes-xts-plain64 (no IV stored) but takes it for aes-gcm-random", async () => {
    const steps = [{ write: { offset: 0, length: 4096 } }, 'close', { corrupt: { blocks: [1], where: 'iv' } }, 'open'];
    await expect(load(scenario({}, steps))).resolves.toBeDefined();
    expect(await errorOf(scenario({ cipher: 'aes-xts-plain64', integrity: 'hmac-sha256' }, steps))).toMatch(/steps\[2\]\.corrupt\.where: .*-plain64 stores no IV/);
  });

  it('refuses I/O, discards and corruptions beyond what the LUKS2 header and dm-integrity leave', async () => {
    // 32 MiB disk: 16 MiB header area, then dm-integrity with 28-byte tags provides 30528 sectors
    const msg = await errorOf(scenario({}, [
      { write: { offset: '15MiB', length: '1MiB' } },
      { discard: { offset: '14MiB', length: '2MiB' } },
      'close',
      { corrupt: { blocks: [30528], where: 'data' } },
      'open',
    ]));
    expect(msg).toMatch(/steps\[0\]\.write: ends at 16777216, beyond the 15630336 bytes \(30528 blocks of 512\) the stack provides on the 33554432-byte disk 'data' \(the rest holds the LUKS2 header, journal and tags\)/);
    expect(msg).toMatch(/steps\[1\]\.discard: ends at 16777216, beyond the 15630336 bytes/);
    expect(msg).toMatch(/steps\[3\]\.corrupt\.blocks\[0\]: block 30528 is beyond/);
  });

  it('refuses a disk with no room after the 16 MiB LUKS2 header area', async () => {
    expect(await errorOf(scenario({}, [{ write: { offset: 0, length: 4096 } }], '16MiB')))
      .toMatch(/stack\.disk: disk 'data' \(16777216 bytes\) is too small for the 16777216-byte LUKS2 header area and dm-integrity with 28-byte tags/);
  });

  it('refuses integrity-only and crypt-aead-only fields', async () => {
    expect(await errorOf(scenario({ key: '00'.repeat(32) }))).toMatch(/luks\.yaml: stack: .*key/);
    expect(await errorOf(scenario({ mode: 'direct' }))).toMatch(/luks\.yaml: stack: .*mode/);
  });
});
