import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from '../../config.ts';
import { UsageError } from '../../errors.ts';
import { parseGateArgs } from '../../gate/config.ts';

describe('--kcidb, --kcidb-origin, --kcidb-url', () => {
  it('are off unless --kcidb names a file', () => {
    expect(parseMatrixArgs([], {}).kcidb).toBeUndefined();
  });
  it('default the origin and leave the URL base to the run directory', () => {
    expect(parseMatrixArgs(['--kcidb', 'out/k.json'], {}).kcidb).toEqual({ file: resolve('out/k.json'), origin: 'integrity_harness' });
  });
  it('take an origin in KCIDB form and a published base URL, on gate too', () => {
    const g = parseGateArgs(['--base', '6.1', '--candidate', '6.12', '--kcidb', 'k.json', '--kcidb-origin', 'my_lab', '--kcidb-url', 'https://ci.example.org/r/1'], {});
    expect(g.matrix.kcidb).toEqual({ file: resolve('k.json'), origin: 'my_lab', urlBase: 'https://ci.example.org/r/1/' });
  });
  it('refuse an origin KCIDB would reject and a URL that is not absolute, naming the option', () => {
    expect(() => parseMatrixArgs(['--kcidb', 'k.json', '--kcidb-origin', 'My-Lab'], {})).toThrow(UsageError);
    expect(() => parseMatrixArgs(['--kcidb', 'k.json', '--kcidb-origin', 'My-Lab'], {})).toThrow(/--kcidb-origin .*'My-Lab'/);
    expect(() => parseMatrixArgs(['--kcidb', 'k.json', '--kcidb-url', 'runs/42'], {})).toThrow(/--kcidb-url runs\/42: not an absolute URL/);
  });
});
