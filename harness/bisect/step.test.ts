import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KernelBuildError, KernelPatchError } from '../../vm/kernel/build-errors.ts';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { InfraError, UsageError } from '../errors.ts';
import { bisectStep, parseBisectRunArgs, type BisectDeps } from './step.ts';
import type { BisectCell } from '../verdict/bisect.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-bisect-'));
const seed = join(dir, 'seed.patch');
writeFileSync(seed, '');

/** A fake builder and runner that record what they were asked and answer as told. */
function fakes(opts: { build?: () => void; cells?: BisectCell[]; run?: () => never; preflight?: () => void } = {}) {
  const calls = { built: [] as KernelSpec[], ran: 0 };
  const deps: BisectDeps = {
    preflight: async () => opts.preflight?.(),
    build: async (spec) => {
      calls.built.push(spec);
      opts.build?.();
    },
    run: async () => {
      calls.ran += 1;
      if (opts.run) opts.run();
      return opts.cells ?? [];
    },
  };
  return { deps, calls };
}

const pass: BisectCell = { id: 'k/integrity/001', verdict: 'pass', booted: true };
const crash: BisectCell = { id: 'k/crypt/001', verdict: 'crash', booted: true, signature: 'BUG: x @ f' };

describe('parseBisectRunArgs', () => {
  it('builds the tree it was started in, with matrix options and patches bound to it', () => {
    const args = parseBisectRunArgs(['--scenario', 'integrity/*', '--patch', seed, '--signature', 'BUG: x @ f'], '/src/linux');
    expect(args).not.toBe('help');
    if (args === 'help') return;
    expect(args.cfg.kernels).toMatchObject([{ kind: 'tree', path: '/src/linux', build: { patches: [seed] } }]);
    expect(args.cfg.scenarioGlobs).toEqual(['integrity/*']);
    expect(args.signatures).toEqual(['BUG: x @ f']);
  });

  it('passes --slow on to the matrix of each step', () => {
    const quick = parseBisectRunArgs([], '/src/linux');
    const slow = parseBisectRunArgs(['--slow'], '/src/linux');
    expect(quick !== 'help' && quick.cfg.slow).toBe(false);
    expect(slow !== 'help' && slow.cfg.slow).toBe(true);
  });

  it('takes --tree and --tree=', () => {
    for (const argv of [['--tree', '/a/b'], ['--tree=/a/b']]) {
      const args = parseBisectRunArgs(argv, '/src/linux');
      expect(args !== 'help' && args.cfg.kernels[0]).toMatchObject({ kind: 'tree', path: '/a/b' });
    }
  });

  it('refuses --kernel and a flag without its value', () => {
    expect(() => parseBisectRunArgs(['--kernel', '6.1'], '/src/linux')).toThrow(UsageError);
    expect(() => parseBisectRunArgs(['--signature'], '/src/linux')).toThrow(/--signature expects a value/);
  });
});

describe('bisectStep', () => {
  it('exits 0 when the built tree passes, after building exactly that tree', async () => {
    const { deps, calls } = fakes({ cells: [pass] });
    expect(await bisectStep([], '/src/linux', deps)).toMatchObject({ code: 0 });
    expect(calls.built).toMatchObject([{ kind: 'tree', path: '/src/linux' }]);
    expect(calls.ran).toBe(1);
  });

  it('exits 1 when a cell crashes', async () => {
    expect(await bisectStep([], '/src/linux', fakes({ cells: [pass, crash] }).deps)).toMatchObject({ code: 1 });
  });

  it('exits 125 without running anything when the tree does not build or a patch does not apply', async () => {
    for (const err of [new KernelBuildError('make bzImage exited 2'), new KernelPatchError(seed, `patch ${seed} does not apply`)]) {
      const { deps, calls } = fakes({ build: () => { throw err; }, cells: [pass] });
      expect(await bisectStep([], '/src/linux', deps)).toMatchObject({ code: 125, reason: expect.stringContaining('did not build') });
      expect(calls.ran).toBe(0);
    }
  });

  it('exits 125 on an infrastructure error and on an unexpected exception', async () => {
    expect(await bisectStep([], '/x', fakes({ run: () => { throw new InfraError('QEMU would not start'); } }).deps)).toMatchObject({ code: 125 });
    expect(await bisectStep([], '/x', fakes({ run: () => { throw new TypeError('oops'); } }).deps)).toMatchObject({ code: 125 });
    expect(await bisectStep([], '/x', fakes({ preflight: () => { throw new InfraError('apt-get failed'); } }).deps)).toMatchObject({ code: 125 });
  });

  it('exits 255 on a usage error, from the arguments or from the build', async () => {
    const { deps, calls } = fakes({ cells: [pass] });
    expect(await bisectStep(['--jobs', 'zero'], '/x', deps)).toMatchObject({ code: 255 });
    expect(calls.built).toHaveLength(0);
    expect(await bisectStep([], '/x', fakes({ build: () => { throw new UsageError('kernel tree /x is not a directory'); } }).deps)).toMatchObject({ code: 255 });
  });

  it('exits 125 for a failure other than --signature, and 1 for that one', async () => {
    const other: BisectCell = { id: 'k/integrity/001', verdict: 'fail', booted: true, signature: 'integrity/001: data-mismatch' };
    expect(await bisectStep(['--signature', 'BUG: x @ f'], '/x', fakes({ cells: [other] }).deps)).toMatchObject({ code: 125 });
    expect(await bisectStep(['--signature', 'BUG: x @ f'], '/x', fakes({ cells: [other, crash] }).deps)).toMatchObject({ code: 1 });
  });

  it('never exits above 127 except 255', async () => {
    const outcomes = [
      fakes({ cells: [pass] }), fakes({ cells: [crash] }), fakes({ cells: [] }),
      fakes({ build: () => { throw new KernelBuildError('x'); } }), fakes({ run: () => { throw new Error('x'); } }),
    ];
    for (const { deps } of outcomes) {
      const d = await bisectStep([], '/x', deps);
      expect(d !== 'help' && [0, 1, 125].includes(d.code)).toBe(true);
    }
  });

  it('answers --help without building', async () => {
    const { deps, calls } = fakes();
    expect(await bisectStep(['--help'], '/x', deps)).toBe('help');
    expect(calls.built).toHaveLength(0);
  });
});
