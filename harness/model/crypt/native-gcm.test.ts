import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findExecutable, pathDirs } from '../../../vm/image/host-binaries.ts';
import { sealSector } from './aead.ts';
import { parseCryptCipher } from './cipher.ts';
import { nativeGcm, nativeGcmStatus } from './native-gcm.ts';

const cipher = parseCryptCipher('capi:gcm(aes)-random');

describe('native gcm run check', () => {
  // where a C compiler and Node's headers are installed (CI installs gcc) the native path must load, or the
  // audit quietly runs slow
  it('loads on x86-64 where a C compiler and Node\'s headers are installed, and says why not otherwise', async () => {
    const cc = process.env.CC || 'cc';
    const status = nativeGcmStatus();
    if (process.env.IH_NATIVE_GCM === '0') expect(status).toEqual({ native: false, reason: 'IH_NATIVE_GCM=0' });
    else if (process.arch !== 'x64') expect(status).toMatchObject({ native: false, reason: expect.stringContaining('x86-64') });
    else if (!existsSync(join(dirname(process.execPath), '..', 'include', 'node', 'node_api.h'))) expect(status).toMatchObject({ native: false, reason: expect.stringContaining("Node's headers are not at") });
    else if (await findExecutable(cc, pathDirs())) expect(status).toMatchObject({ native: true });
    // without a compiler only a build cached earlier loads
    else if (!status.native) expect(status.reason).toContain(cc);
  });

  // gcm-run.test.ts checks the same through gcmRun (native where it loads); this pins the C entry itself
  // both instruction paths: IH_NATIVE_GCM_NO_VAES is read when a handle is made
  it.runIf(nativeGcmStatus().native).each([
    [16, 512, 'AES-NI'],
    [24, 4096, 'AES-NI'],
    [32, 512, 'AES-NI'],
    [16, 512, 'best'],
    [24, 4096, 'best'],
    [32, 1024, 'best'],
  ])('agrees with node:crypto GCM sector by sector (%i-byte key, %i-byte sectors, %s), plaintext included', (keyLen, bs, isa) => {
    const key = randomBytes(keyLen);
    if (isa === 'AES-NI') process.env.IH_NATIVE_GCM_NO_VAES = '1';
    let check;
    try {
      check = nativeGcm(key)!;
    } finally {
      delete process.env.IH_NATIVE_GCM_NO_VAES;
    }
    const n = 7;
    const step = bs / 512;
    const s0 = 2 ** 40 * step;
    const ts = 32;
    const data = Buffer.alloc(n * bs);
    const tags = randomBytes(n * ts); // padding bytes after the IV are noise the check must ignore
    const plain = randomBytes(n * bs);
    for (let i = 0; i < n; i++) {
      const iv = randomBytes(12);
      const s = sealSector(cipher, key, s0 + i * step, iv, plain.subarray(i * bs, (i + 1) * bs));
      s.ciphertext.copy(data, i * bs);
      s.authTag.copy(tags, i * ts);
      iv.copy(tags, i * ts + 16);
    }
    const out = Buffer.alloc(n * bs);
    expect(check(data, tags, out, n, bs, ts, s0, step)).toBe(true);
    expect(out.equals(plain)).toBe(true);
    expect(check(data, tags, out, n, bs, ts, s0 + step, step)).toBe(false); // AAD of the wrong sector
    tags[(n - 1) * ts + 27]! ^= 0x80; // last IV byte of the last sector
    expect(check(data, tags, out, n, bs, ts, s0, step)).toBe(false);
  });

  it.runIf(nativeGcmStatus().native)('refuses a bad key, short buffers and odd sizes with a message', () => {
    expect(() => nativeGcm(randomBytes(20))).toThrow(/16, 24 or 32 bytes/);
    const check = nativeGcm(randomBytes(32))!;
    expect(() => check(Buffer.alloc(512), Buffer.alloc(28), Buffer.alloc(512), 2, 512, 28, 0, 1)).toThrow(/shorter than n sectors/);
    expect(() => check(Buffer.alloc(512), Buffer.alloc(28), Buffer.alloc(512), 1, 500, 28, 0, 1)).toThrow(/multiple of 128/);
  });
});
