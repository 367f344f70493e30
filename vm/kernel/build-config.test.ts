import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BASE_FRAGMENT, parseConfig, verifyConfig, wantedBuiltIn, type Fragment } from './build-config.ts';

const base: Fragment = { name: BASE_FRAGMENT, text: readFileSync(BASE_FRAGMENT, 'utf8') };

/** What the harness's guests need of a kernel it builds (issue 7 and the scenarios' stacks). */
const REQUIRED = [
  'SERIAL_8250_CONSOLE', 'BLK_DEV_INITRD', 'VIRTIO_PCI', 'VIRTIO_BLK', 'VIRTIO_CONSOLE', 'DEVTMPFS',
  'DM_INTEGRITY', 'DM_CRYPT', 'DM_FLAKEY', 'DM_DUST', 'DM_LOG_WRITES', 'DM_DELAY',
  'CRYPTO_CRC32C', 'CRYPTO_CRC32', 'CRYPTO_SHA1', 'CRYPTO_SHA256', 'CRYPTO_SHA512', 'CRYPTO_BLAKE2B', 'CRYPTO_XXHASH',
  'CRYPTO_HMAC', 'CRYPTO_GCM', 'CRYPTO_CCM', 'CRYPTO_CHACHA20POLY1305', 'CRYPTO_AEGIS128', 'CRYPTO_AUTHENC',
  'CRYPTO_XTS', 'CRYPTO_ESSIV',
  'CRYPTO_USER_API_HASH', 'CRYPTO_USER_API_SKCIPHER', 'CRYPTO_USER_API_AEAD', 'CRYPTO_USER_API_RNG',
  'KALLSYMS',
];

describe('parseConfig', () => {
  it('reads set, unset and string options and ignores comments', () => {
    const c = parseConfig('# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=m\n');
    expect([...c]).toEqual([['A', 'y'], ['B', 'n'], ['C', '"x y"'], ['D', 'm']]);
  });
});

describe('the base fragment', () => {
  it('asks for everything the harness needs, built in', () => {
    const wanted = new Set(wantedBuiltIn([base]));
    expect(REQUIRED.filter((o) => !wanted.has(o))).toEqual([]);
  });
});

describe('verifyConfig', () => {
  const user: Fragment = { name: 'kasan.config', text: 'CONFIG_KASAN=y\n# CONFIG_DM_DUST is not set\n' };

  it('passes a .config that kept every =y option', () => {
    const final = wantedBuiltIn([base, user]).map((o) => `CONFIG_${o}=y`).join('\n');
    expect(verifyConfig([base, user], final)).toEqual({ missingOptions: [], missingCritical: [] });
  });

  it('names options olddefconfig dropped or turned into modules, and the critical ones apart', () => {
    const kept = wantedBuiltIn([base, user]).filter((o) => o !== 'KASAN' && o !== 'DM_INTEGRITY' && o !== 'CRYPTO_GCM');
    const final = [...kept.map((o) => `CONFIG_${o}=y`), 'CONFIG_CRYPTO_GCM=m', '# CONFIG_DM_INTEGRITY is not set'].join('\n');
    const v = verifyConfig([base, user], final);
    expect(v.missingOptions.sort()).toEqual(['CRYPTO_GCM', 'DM_INTEGRITY', 'KASAN']);
    expect(v.missingCritical).toEqual(['DM_INTEGRITY']);
  });

  it('lets a later fragment turn an option off', () => {
    expect(wantedBuiltIn([base, user])).not.toContain('DM_DUST');
  });
});
