import { describe, expect, it } from 'vitest';
import { UsageError } from '../../harness/errors.ts';
import { debianPackagePattern, newestPackage } from './debian.ts';
import { parseKernelSpec } from './spec.ts';

describe('parseKernelSpec', () => {
  it('parses every form a user may write', () => {
    expect(parseKernelSpec('6.1')).toMatchObject({ kind: 'alias', version: '6.1' });
    expect(parseKernelSpec('deb:linux-image-6.1.0-56-amd64-unsigned')).toMatchObject({ kind: 'deb', pkg: 'linux-image-6.1.0-56-amd64-unsigned' });
    expect(parseKernelSpec('/boot/vmlinuz')).toMatchObject({ kind: 'image', path: '/boot/vmlinuz' });
    expect(parseKernelSpec('./bzImage')).toMatchObject({ kind: 'image' });
    expect(parseKernelSpec('tree:/src/linux@v6.1')).toMatchObject({ kind: 'tree', path: '/src/linux', ref: 'v6.1' });
    expect(parseKernelSpec('tree:/src/linux')).toMatchObject({ kind: 'tree', path: '/src/linux' });
    expect(parseKernelSpec('src:6.1')).toMatchObject({ kind: 'src', version: '6.1' });
  });
  it('names the bad value and the accepted forms', () => {
    expect(() => parseKernelSpec('latest')).toThrow(UsageError);
    expect(() => parseKernelSpec('latest')).toThrow(/--kernel latest: not a kernel spec.*6\.1/);
    expect(() => parseKernelSpec('deb:Bad_Name')).toThrow(/not a Debian package name/);
    expect(() => parseKernelSpec('src:six')).toThrow(/src:<major.minor>/);
    expect(() => parseKernelSpec('')).toThrow(/empty value/);
  });
});

describe('Debian kernel packages', () => {
  it('matches the unsigned amd64 images of a version, not other flavours or versions', () => {
    const re = debianPackagePattern('6.1');
    expect(re.test('linux-image-6.1.0-56-amd64-unsigned')).toBe(true);
    expect(re.test('linux-image-6.1.0-56-rt-amd64-unsigned')).toBe(false);
    expect(re.test('linux-image-6.1.0-56-cloud-amd64-unsigned')).toBe(false);
    expect(re.test('linux-image-6.12.0-56-amd64-unsigned')).toBe(false);
    expect(debianPackagePattern('6.12').test('linux-image-6.12.117+deb12-amd64-unsigned')).toBe(true);
  });
  it('picks the newest by number, not by string', () => {
    expect(newestPackage(['linux-image-6.1.0-9-amd64-unsigned', 'linux-image-6.1.0-56-amd64-unsigned', 'linux-image-6.1.0-10-amd64-unsigned']))
      .toBe('linux-image-6.1.0-56-amd64-unsigned');
    expect(newestPackage([])).toBeUndefined();
  });
});
