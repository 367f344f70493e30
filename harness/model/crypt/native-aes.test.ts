import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { findExecutable, pathDirs } from '../../../vm/image/host-binaries.ts';
import { nativeAesStatus, nativeEcb } from './native-aes.ts';

describe('native AES-ECB', () => {
  // where a C compiler is installed (CI installs gcc) the native path must load, or the audit quietly runs slow
  it('loads where a C compiler is installed, and says why not where none is', async () => {
    const cc = process.env.CC || 'cc';
    const status = nativeAesStatus();
    if (process.env.IH_NATIVE_AES === '0') expect(status).toEqual({ native: false, reason: 'IH_NATIVE_AES=0' });
    else if (await findExecutable(cc, pathDirs())) expect(status).toMatchObject({ native: true });
    // without a compiler only a build cached earlier loads
    else if (!status.native) expect(status.reason).toContain(cc);
  });

  it.runIf(nativeAesStatus().native).each([16, 24, 32])('encrypts in place exactly as node:crypto does (%i-byte key)', (keyLen) => {
    const key = randomBytes(keyLen);
    const data = randomBytes(4096 + 48);
    const want = createCipheriv(`aes-${keyLen * 8}-ecb`, key, null).setAutoPadding(false).update(data);
    const view = new Uint8Array(data.length + 32);
    view.set(data, 16);
    nativeEcb(key)!(view.subarray(16, 16 + data.length));
    expect(Buffer.from(view.subarray(16, 16 + data.length)).equals(want)).toBe(true);
    expect(view.subarray(0, 16).every((b) => b === 0) && view.subarray(16 + data.length).every((b) => b === 0)).toBe(true);
  });

  it.runIf(nativeAesStatus().native)('refuses a partial block and a bad key with a message', () => {
    expect(() => nativeEcb(randomBytes(32))!(new Uint8Array(20))).toThrow(/multiple of 16/);
    expect(() => nativeEcb(randomBytes(20))).toThrow(/16, 24 or 32 bytes/);
  });
});
