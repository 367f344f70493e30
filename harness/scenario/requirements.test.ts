import { describe, expect, it } from 'vitest';
import { effectiveRequirements, helpListsOption, kernelVersionOf, parseDmTargets, parseProcCrypto, unmetRequirements, type GuestFacts } from './requirements.ts';
import { cryptsetupFixesPadding, integrityStatusFields } from '../stacks/integrity/integrity-requirements.ts';
import { compareVersions } from './versions.ts';
import { scenarioSchema } from './schema.ts';

const base = scenarioSchema.parse({
  description: 'a scenario for the requirement checks',
  disks: [{ name: 'data', size: '64MiB' }],
  stack: { type: 'integrity', disk: 'data', hash: 'hmac-sha256', key: '00', mode: 'bitmap', lower: 'linear', allowDiscards: true },
  steps: ['close', { ioError: { blocks: [1] } }, 'open'],
  requires: { kernel: '6.1.90', targetVersions: { integrity: '1.10.0' }, toolOptions: { cryptsetup: ['--integrity'] } },
});

const facts = (over: Partial<GuestFacts> = {}): GuestFacts => ({
  kernelVersion: [6, 1, 192], kernelText: 'Linux version 6.1.0-56-amd64 ... Debian 6.1.192-2',
  targets: parseDmTargets('integrity        v1.10.0\nlinear           v1.4.0\nerror            v1.6.0\n'),
  crypto: parseProcCrypto('name         : hmac(sha256)\ndriver       : hmac(sha256-generic)\nmodule       : kernel\n\nname         : crc32c\n'),
  help: new Map([['integritysetup', 'Usage: integritysetup [OPTION...]\n      --integrity-bitmap-mode   Use bitmap\n  -D, --allow-discards   Allow discards\n      --integrity-key-file=STRING\n'], ['cryptsetup', '      --integrity=STRING']]),
  ...over,
});

describe('requirements', () => {
  it('adds what the stack and steps imply', () => {
    const r = effectiveRequirements(base);
    expect(r.targets.sort()).toEqual(['error', 'integrity', 'linear']);
    expect(r.crypto).toEqual(['hmac(sha256)']);
    expect(r.toolOptions.integritysetup!.sort()).toEqual(['--allow-discards', '--integrity-bitmap-mode', '--integrity-key-file']);
    expect(r.toolOptions.cryptsetup).toEqual(['--integrity']);
    const recovery = effectiveRequirements({ ...base, steps: ['close', { open: { mode: 'recovery' } }] });
    expect(recovery.toolOptions.integritysetup).toContain('--integrity-recovery-mode');
  });

  it('adds integrity and crypt for AEAD stacks, and the cryptsetup options a luks2 stack uses', () => {
    const luks = scenarioSchema.parse({ ...base, requires: {}, steps: ['status'], stack: { type: 'luks2', disk: 'data', cipher: 'aes-gcm-random', integrity: 'aead', integrityNoWipe: true } });
    const r = effectiveRequirements(luks);
    expect(r.targets.sort()).toEqual(['crypt', 'integrity']);
    expect(r.toolOptions.cryptsetup!.sort()).toEqual(['--integrity', '--integrity-no-wipe', '--pbkdf-force-iterations', '--sector-size', '--volume-key-file']);
    const crypt = scenarioSchema.parse({ ...base, requires: {}, steps: ['status'], stack: { type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random' } });
    expect(effectiveRequirements(crypt)).toMatchObject({ targets: ['integrity', 'crypt'], toolOptions: {} });
  });

  it('asks for the dm-integrity target version of each feature the stack uses, keeping a higher one the scenario gives', () => {
    const plain = { ...base, requires: { targets: [], targetVersions: {}, crypto: [], toolOptions: {} } };
    const int = (stack: object) => effectiveRequirements(scenarioSchema.parse({ ...plain, steps: ['status'], stack: { type: 'integrity', disk: 'data', ...stack } })).targetVersions.integrity;
    expect(int({ mode: 'journal' })).toBeUndefined();
    expect(int({ mode: 'bitmap' })).toBe('1.3.0');
    expect(int({ mode: 'journal', allowDiscards: true })).toBe('1.6.0');
    expect(int({ mode: 'direct', recalculate: true })).toBe('1.2.0');
    expect(int({ mode: 'journal', recalculate: 'reset' })).toBe('1.8.0');
    expect(effectiveRequirements(scenarioSchema.parse({ ...plain, steps: ['status'], stack: { type: 'integrity', disk: 'data', recalculate: 'reset' } })).toolOptions.integritysetup).toEqual(['--integrity-recalculate-reset']);
    expect(effectiveRequirements(base).targetVersions.integrity).toBe('1.10.0');
    expect(effectiveRequirements(scenarioSchema.parse({ ...plain, steps: ['close', { tables: [{ args: '{disk:data} 0 4 J 0' }] }], stack: { type: 'integrity', disk: 'data' } })).targetVersions.integrity).toBe('1.6.0');
    const crypt = scenarioSchema.parse({ ...plain, steps: ['status'], stack: { type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random' } });
    // the crypt-aead table asks for fix_padding only where the target has it, so any target runs a journal stack
    expect(effectiveRequirements(crypt).targetVersions.integrity).toBeUndefined();
    expect(effectiveRequirements(crypt).targetVersions.crypt).toBeUndefined();
    const cryptBitmap = scenarioSchema.parse({ ...plain, steps: ['status'], stack: { type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random', mode: 'bitmap' } });
    expect(effectiveRequirements(cryptBitmap).targetVersions.integrity).toBe('1.3.0');
    const tables = scenarioSchema.parse({ ...plain, steps: [{ tables: [{ args: 'aes-xts-plain64 {key:64} 0 {missing} 0' }] }], stack: { type: 'crypt-aead', disk: 'data', cipher: 'capi:gcm(aes)-random' } });
    expect(effectiveRequirements(tables).targetVersions.crypt).toBe('1.22.0');
    expect(unmetRequirements(effectiveRequirements(cryptBitmap), facts({ targets: parseDmTargets('integrity v1.2.0\ncrypt v1.18.1\n') })))
      .toEqual([expect.stringContaining('integrity')]);
  });

  it('knows cryptsetup asks for fix_padding from target 1.4.0 on', () => {
    expect(cryptsetupFixesPadding('1.2.0')).toBe(false);
    expect(cryptsetupFixesPadding('1.4.0')).toBe(true);
    expect(cryptsetupFixesPadding('1.10.0')).toBe(true);
  });

  it('knows the status line of each dm-integrity target: empty on 1.0.0, the counter on 1.1.0, three fields from 1.2.0', () => {
    expect(integrityStatusFields('1.0.0')).toBe('none');
    expect(integrityStatusFields('1.1.0')).toBe('mismatches');
    expect(integrityStatusFields('1.2.0')).toBe('full');
    expect(integrityStatusFields('1.10.0')).toBe('full');
    expect(integrityStatusFields(undefined)).toBe('full');
  });

  it('are met by a guest that has everything', () => {
    expect(unmetRequirements(effectiveRequirements(base), facts())).toEqual([]);
  });

  it('name each thing that is missing', () => {
    const r = effectiveRequirements(base);
    const reasons = unmetRequirements(r, facts({
      kernelVersion: [6, 1, 10], targets: parseDmTargets('integrity v1.9.0\nlinear v1.4.0\n'), crypto: new Set(), help: new Map([['integritysetup', '--allow-discards-x'], ['cryptsetup', undefined]]),
    }));
    expect(reasons).toEqual([
      'needs kernel >= 6.1.90, this is 6.1.10',
      'kernel lacks device-mapper target(s): error',
      'device-mapper target integrity is v1.9.0, needs >= v1.10.0',
      'kernel crypto lacks hmac(sha256) (not in /proc/crypto)',
      'guest has no cryptsetup',
      'integritysetup has no option --integrity-bitmap-mode, --allow-discards, --integrity-key-file',
    ]);
  });

  it('tell the upstream version of Debian and other kernels', () => {
    expect(kernelVersionOf('Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-01-01)')).toEqual([6, 1, 192]);
    expect(kernelVersionOf('Linux version 6.13.0-rc1+ (me@host) #3')).toEqual([6, 13, 0]);
    expect(kernelVersionOf('garbage')).toBeUndefined();
    expect(compareVersions([6, 1], [6, 1, 0])).toBe(0);
    expect(compareVersions([6, 12], [6, 1, 192])).toBeGreaterThan(0);
    expect(helpListsOption('  -D, --allow-discards  x', '--allow-discards')).toBe(true);
    expect(helpListsOption('--allow-discards-now', '--allow-discards')).toBe(false);
  });
});
