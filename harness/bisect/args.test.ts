import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.ts';
import { parseBisectArgs } from './args.ts';
import { parseBisectOutput } from './git.ts';
import { deriveSignatures, failureSignature } from '../verdict/bisect.ts';

describe('parseBisectArgs', () => {
  it('takes its own options and passes the matrix options to every step', () => {
    const a = parseBisectArgs(['--tree', '/src/linux', '--good=v6.0', '--bad', 'v6.1', '--scenario', 'crypt/*', '--repeat', '3', '--jobs', '1', '--results', '/r']);
    expect(a).toEqual({ tree: '/src/linux', good: 'v6.0', bad: 'v6.1', repeat: 3, signatures: [], resultsRoot: '/r', stepArgs: ['--scenario', 'crypt/*', '--jobs', '1'] });
  });

  it('refuses missing ends, a bad --repeat, --kernel and unknown matrix options before anything runs', () => {
    expect(() => parseBisectArgs(['--tree', '/t', '--good', 'a'])).toThrow(/--bad is required/);
    expect(() => parseBisectArgs(['--tree', '/t', '--good', 'a', '--bad', 'b', '--repeat', '0'])).toThrow(/--repeat expects a positive integer/);
    expect(() => parseBisectArgs(['--tree', '/t', '--good', 'a', '--bad', 'b', '--kernel', '6.1'])).toThrow(UsageError);
    expect(() => parseBisectArgs(['--tree', '/t', '--good', 'a', '--bad', 'b', '--frob'])).toThrow(UsageError);
    expect(parseBisectArgs(['--help'])).toBe('help');
  });
});

describe('parseBisectOutput', () => {
  const A = 'a'.repeat(40);
  const B = 'b'.repeat(40);
  it('reads the first bad commit, and the candidates when only skipped commits are left', () => {
    expect(parseBisectOutput(`${A} is the first bad commit\ncommit ${A}\n`)).toEqual({ kind: 'found', commit: A });
    const skipped = `There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n${A}\n${B}\nWe cannot bisect more!\n`;
    expect(parseBisectOutput(skipped)).toEqual({ kind: 'only-skipped', candidates: [A, B] });
    expect(parseBisectOutput(`Bisecting: 1 revision left to test after this (roughly 1 step)\n[${A}] x\n`)).toBeUndefined();
  });
});

describe('failure signatures', () => {
  it('are the oops or disagreement signature, else scenario and verdict; never the kernel label', () => {
    expect(failureSignature({ id: '6.1.0-gabc/crypt/001-gcm', verdict: 'crash', booted: true, signature: 'BUG: x @ f' })).toBe('BUG: x @ f');
    expect(failureSignature({ id: '6.1.0-gabc/crypt/001-gcm', verdict: 'hang', booted: true })).toBe('crypt/001-gcm: hang');
    expect(deriveSignatures([
      { id: 'k1/a', verdict: 'crash', booted: true, signature: 'BUG: x @ f' },
      { id: 'k1/b', verdict: 'crash', booted: true, signature: 'BUG: x @ f' },
      { id: 'k1/c', verdict: 'pass', booted: true },
    ])).toEqual(['BUG: x @ f']);
  });
});
