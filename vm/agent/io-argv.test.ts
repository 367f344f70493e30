/**
 * ih-io's command line as the harness builds it (io-argv.ts) against io.c as it reads it: every option the
 * builder can write is one io.c's parse_args accepts for that subcommand, read from io.c's source text and
 * checked again on the compiled tool; and the argv each kind of step runs is pinned word for word.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { buildGuestTools } from './build.ts';
import { IO_OPTIONS, ioArgv, type IoCommand, type IoField, type OptionCommand } from './io-argv.ts';

const IO_C = readFileSync(new URL('./io.c', import.meta.url), 'utf8');

interface Accepted {
  kind: 'flag' | 'value';
  /** the subcommands parse_args takes it for */
  cmds: Set<string>;
}

/** parse_args's options: each `FLAG("--x")` or `VALUE("--x")` test with the subcommand guard before it. */
function ioCOptions(source: string): { subcommands: string[]; options: Map<string, Accepted>; alg: boolean } {
  const names = /cmd_names\[\]\s*=\s*\{([^}]*)\}/.exec(source);
  if (!names) throw new Error('io.c: no cmd_names[] table');
  const subcommands = [...names[1]!.matchAll(/"([a-z]*)"/g)].map((m) => m[1]!).filter((n) => n !== '');
  const start = source.indexOf('static void parse_args(');
  const end = source.indexOf('\n}\n', start);
  if (start < 0 || end < 0) throw new Error('io.c: no parse_args()');
  const guards: Record<string, (cmd: string) => boolean> = { '': () => true, '!is_copy &&': (c) => c !== 'copy', 'is_copy &&': (c) => c === 'copy',
    '(o.cmd == CMD_READ || is_copy) &&': (c) => c === 'read' || c === 'copy' };
  const options = new Map<string, Accepted>();
  for (const line of source.slice(start, end).split('\n')) {
    const cond = /^\s*(?:else )?if \((.*)\)\s*\{?$/.exec(line)?.[1];
    if (cond === undefined || !/\b(FLAG|VALUE)\("/.test(cond)) continue;
    const guard = cond.slice(0, cond.search(/\b(FLAG|VALUE)\("/)).trim();
    const only = /^o\.cmd == CMD_([A-Z]+) &&$/.exec(guard)?.[1]?.toLowerCase();
    const takes = only !== undefined ? (c: string) => c === only : guards[guard];
    if (takes === undefined) throw new Error(`io.c parse_args: a guard this test cannot read: '${guard}' (teach ioCOptions)`);
    for (const m of cond.matchAll(/\b(FLAG|VALUE)\("(--[a-z-]+)"\)/g)) {
      options.set(m[2]!, { kind: m[1] === 'FLAG' ? 'flag' : 'value', cmds: new Set(subcommands.filter(takes)) });
    }
  }
  const alg = /!strcmp\(argv\[1\], "alg"\)/.test(source.slice(source.indexOf('int main(')));
  return { subcommands, options, alg };
}

/** The builder's options io.c does not take as the builder writes them, as `cmd --option: why`. */
function refused(source: string): string[] {
  const io = ioCOptions(source);
  const out: string[] = [];
  for (const [cmd, opts] of Object.entries(IO_OPTIONS)) {
    if (!io.subcommands.includes(cmd)) out.push(`${cmd}: not a subcommand of io.c`);
    for (const [, flag, kind] of opts) {
      const a = io.options.get(flag);
      if (a === undefined) out.push(`${cmd} ${flag}: io.c has no such option`);
      else if (!a.cmds.has(cmd)) out.push(`${cmd} ${flag}: io.c takes it only for ${[...a.cmds].join(', ')}`);
      else if ((kind === 'flag') !== (a.kind === 'flag')) out.push(`${cmd} ${flag}: io.c reads it as a ${a.kind}`);
    }
  }
  if (!io.alg) out.push('alg: io.c main() does not take it');
  return out;
}

/** Every option of each subcommand set, in the two ways its workers can be given. */
const EVERY: IoCommand[] = [
  ...[{ jobs: 2 }, { procs: 2 }].flatMap((workers) => [
    {
      cmd: 'read' as const, dev: '/nonexistent/ih-dev', offset: 4096, length: '8K' as const, bs: 4096, block: '8s' as const, ...workers,
      unaligned: true, out: '/nonexistent/ih-out', outOffset: 0, logOk: true, noDirect: true, srcBuffered: true,
      dstBuffered: true, fua: true, fsync: true, failRanges: [{ offset: 0, length: 512, errno: 84 }, { offset: 4096, length: 512, errno: 5 }], iov: 4,
    },
    {
      cmd: 'copy' as const, src: '/nonexistent/ih-src', srcOffset: 0, dst: '/nonexistent/ih-dst', dstOffset: '1M' as const, length: 8192,
      bs: 4096, block: 512, ...workers, unaligned: true, srcBuffered: true, dstBuffered: true, noDirect: true, fua: true,
      fsync: true, logOk: true, failRanges: [{ offset: 0, length: 512, errno: 84 }], iov: 16,
    },
    { cmd: 'zero' as const, dev: '/nonexistent/ih-dev', offset: 0, length: '1G' as const, bs: '1M' as const, ...workers, fua: true, fsync: true },
  ]),
  { cmd: 'discard', dev: '/nonexistent/ih-dev', offset: 512, length: 4096 },
  { cmd: 'flush', dev: '/nonexistent/ih-dev' },
  { cmd: 'info', dev: '/nonexistent/ih-dev' },
];

describe('ih-io argv against io.c', () => {
  it('reads io.c: its subcommands and options, each with the subcommands that take it', () => {
    const io = ioCOptions(IO_C);
    expect(io.subcommands).toEqual(expect.arrayContaining(['read', 'copy', 'flush']));
    expect(io.options.get('--out-offset')).toEqual({ kind: 'value', cmds: new Set(['read']) });
    expect(io.options.get('--src')?.cmds).toEqual(new Set(['copy']));
    expect(io.options.get('--fua')).toEqual({ kind: 'flag', cmds: new Set(io.subcommands) });
    expect(io.options.get('--out-buffered')?.kind).toBe('flag');
  });

  it('writes only options io.c accepts for the subcommand, as flag or value as io.c reads them', () => {
    expect(refused(IO_C)).toEqual([]);
  });

  it('notices an option io.c renamed, restricted or turned into a flag', () => {
    expect(refused(IO_C.replace('VALUE("--out-offset")', 'VALUE("--output-offset")'))).toEqual(['read --out-offset: io.c has no such option']);
    expect(refused(IO_C.replace('!is_copy && VALUE("--offset")', 'o.cmd == CMD_READ && VALUE("--offset")')))
      .toEqual(['zero --offset: io.c takes it only for read', 'discard --offset: io.c takes it only for read']);
    expect(refused(IO_C.replace('VALUE("--block")', 'FLAG("--block")'))).toEqual(['read --block: io.c reads it as a flag', 'copy --block: io.c reads it as a flag']);
  });

  it('has an option in the table for every field of every command', () => {
    type Unlisted = { [C in OptionCommand]: Exclude<IoField<C>, (typeof IO_OPTIONS)[C][number][0]> }[OptionCommand];
    expectTypeOf<Unlisted>().toEqualTypeOf<never>();
  });

  it('can write every option of the table, each option once and each value right after its option', () => {
    const io = ioCOptions(IO_C);
    for (const cmd of Object.keys(IO_OPTIONS) as OptionCommand[]) {
      const written = new Set<string>();
      for (const c of EVERY.filter((x) => x.cmd === cmd)) {
        const argv = ioArgv(c);
        expect(argv.slice(0, 2)).toEqual(['ih-io', cmd]);
        const seen: string[] = [];
        for (let i = 2; i < argv.length; i++) {
          const a = io.options.get(argv[i]!);
          expect(a, `${argv.join(' ')}: word ${i}`).toBeDefined();
          seen.push(argv[i]!);
          if (a!.kind === 'value') i++;
        }
        expect(seen.filter((f) => f !== '--fail-range')).toEqual([...new Set(seen.filter((f) => f !== '--fail-range'))]);
        seen.forEach((f) => written.add(f));
      }
      expect([...written].sort()).toEqual(IO_OPTIONS[cmd].map(([, flag]) => flag).sort());
    }
  });
});

describe('ih-io argv as the steps run it', () => {
  it('integrity write (copy), with --procs, --unaligned, --src-buffered and --fua where the step asks', () => {
    expect(ioArgv({ cmd: 'copy', src: '/dev/vdc', srcOffset: 4096, dst: '/dev/mapper/ih-int', dstOffset: 100, length: 512, bs: 512, block: 512, unaligned: true, srcBuffered: true, fua: true }))
      .toEqual(['ih-io', 'copy', '--src', '/dev/vdc', '--src-offset', '4096', '--dst', '/dev/mapper/ih-int', '--dst-offset', '100', '--length', '512', '--bs', '512', '--block', '512', '--unaligned', '--src-buffered', '--fua']);
    expect(ioArgv({ cmd: 'copy', src: '/dev/vde', srcOffset: 0, dst: '/dev/mapper/ih-int', dstOffset: 0, length: 8388608, bs: 4096, block: 4096, procs: 8, unaligned: undefined, srcBuffered: false, fua: false }))
      .toEqual(['ih-io', 'copy', '--src', '/dev/vde', '--src-offset', '0', '--dst', '/dev/mapper/ih-int', '--dst-offset', '0', '--length', '8388608', '--bs', '4096', '--block', '4096', '--procs', '8']);
  });

  it('integrity read, with --procs and --unaligned before --out and --log-ok last', () => {
    expect(ioArgv({ cmd: 'read', dev: '/dev/mapper/ih-int', offset: 0, length: 2097152, bs: 131072, block: 512, procs: 8, unaligned: true, out: '/dev/vdf', outOffset: 2097152, logOk: true }))
      .toEqual(['ih-io', 'read', '--dev', '/dev/mapper/ih-int', '--offset', '0', '--length', '2097152', '--bs', '131072', '--block', '512', '--procs', '8', '--unaligned', '--out', '/dev/vdf', '--out-offset', '2097152', '--log-ok']);
  });

  it('crash workload write (copy) with --jobs, and the crash check read with --bs 256K', () => {
    expect(ioArgv({ cmd: 'copy', src: '/dev/vdd', srcOffset: 65536, dst: '/dev/mapper/ih-int', dstOffset: 8192, length: 16384, bs: 4096, block: 4096, jobs: 4, fua: true }))
      .toEqual(['ih-io', 'copy', '--src', '/dev/vdd', '--src-offset', '65536', '--dst', '/dev/mapper/ih-int', '--dst-offset', '8192', '--length', '16384', '--bs', '4096', '--block', '4096', '--jobs', '4', '--fua']);
    expect(ioArgv({ cmd: 'read', dev: '/dev/mapper/ih-int', offset: 0, length: 1048576, bs: '256K', block: 4096, out: '/dev/vdc', outOffset: 0 }))
      .toEqual(['ih-io', 'read', '--dev', '/dev/mapper/ih-int', '--offset', '0', '--length', '1048576', '--bs', '256K', '--block', '4096', '--out', '/dev/vdc', '--out-offset', '0']);
  });

  it('discard, flush, info and alg', () => {
    expect(ioArgv({ cmd: 'discard', dev: '/dev/mapper/ih-int', offset: 0, length: 1048576 }))
      .toEqual(['ih-io', 'discard', '--dev', '/dev/mapper/ih-int', '--offset', '0', '--length', '1048576']);
    expect(ioArgv({ cmd: 'flush', dev: '/dev/mapper/ih-int' })).toEqual(['ih-io', 'flush', '--dev', '/dev/mapper/ih-int']);
    expect(ioArgv({ cmd: 'info', dev: '/dev/mapper/ih-crypt' })).toEqual(['ih-io', 'info', '--dev', '/dev/mapper/ih-crypt']);
    expect(ioArgv({ cmd: 'alg', name: 'hmac(sha256)' })).toEqual(['ih-io', 'alg', 'hmac(sha256)']);
  });

  it('unstable: every option always written, in order; the compiled tool gets past its parsing', async () => {
    const argv = ioArgv({ cmd: 'unstable', dev: '/nonexistent/ih-dev', offset: 65536, length: 65536, block: 4096, writes: 96, writeBlocks: 1, tag: 2 });
    expect(argv).toEqual(['ih-io', 'unstable', '--dev', '/nonexistent/ih-dev', '--offset', '65536', '--length', '65536', '--block', '4096',
      '--writes', '96', '--write-blocks', '1', '--tag', '2']);
    expect(() => ioArgv({ cmd: 'unstable', dev: '/dev/x', offset: 0, length: 4096, block: 4096, writes: -1, writeBlocks: 1, tag: 2 })).toThrow(/ih-io unstable --writes/);
    const dir = mkdtempSync(join(tmpdir(), 'ih-io-unstable-'));
    try {
      const r = await execa((await buildGuestTools(join(dir, 'cache'))).io, argv.slice(1), { reject: false });
      expect({ exit: r.exitCode, stderr: r.stderr }).toMatchObject({ exit: 3, stderr: expect.stringMatching(/^ih-io unstable: open \/nonexistent\//) });
      const bad = await execa((await buildGuestTools(join(dir, 'cache'))).io, [...argv.slice(1), '--write-blocks', '3'], { reject: false });
      expect(bad.exitCode).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('refuses a value io.c would misread, naming the subcommand and option', () => {
    expect(() => ioArgv({ cmd: 'read', dev: '/dev/x', offset: Number.NaN })).toThrow(/ih-io read --offset: expected a byte count/);
    expect(() => ioArgv({ cmd: 'copy', src: '/dev/x', dst: '/dev/y', srcOffset: -512 })).toThrow(/ih-io copy --src-offset/);
    expect(() => ioArgv({ cmd: 'read', dev: '/dev/x', bs: '1.5M' as `${number}M` })).toThrow(/ih-io read --bs/);
    expect(() => ioArgv({ cmd: 'flush', dev: '' })).toThrow(/ih-io flush --dev: expected a non-empty path/);
    expect(() => ioArgv({ cmd: 'read', dev: '/dev/x', failRanges: [{ offset: 0, length: 512, errno: 0 }] })).toThrow(/--fail-range/);
  });

  it('makes the required options and the exclusive ones a type error', () => {
    // @ts-expect-error copy needs --dst
    expect(ioArgv({ cmd: 'copy', src: '/dev/x' })).toEqual(['ih-io', 'copy', '--src', '/dev/x']);
    // @ts-expect-error --jobs and --procs are exclusive
    expect(ioArgv({ cmd: 'read', dev: '/dev/x', jobs: 2, procs: 2 })).toContain('--procs');
    // @ts-expect-error discard takes no --out
    expect(ioArgv({ cmd: 'discard', dev: '/dev/x', out: '/dev/y' })).toEqual(['ih-io', 'discard', '--dev', '/dev/x']);
  });
});

/** The compiled tool: each argv gets past parse_args (exit 3: its device does not exist), never exit 2. */
describe('ih-io argv on the compiled io.c', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ih-io-argv-'));
  let io = '';
  beforeAll(async () => {
    io = (await buildGuestTools(join(dir, 'cache'))).io;
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts every option the builder writes for each subcommand', async () => {
    for (const c of EVERY) {
      const argv = ioArgv(c);
      const r = await execa(io, argv.slice(1), { reject: false });
      expect({ argv: argv.join(' '), exit: r.exitCode, stderr: r.stderr }).toMatchObject({ exit: 3, stderr: expect.stringMatching(/^ih-io: open \/nonexistent\//) });
    }
  });

  it('refuses a misplaced option with exit 2 (so the check above can fail)', async () => {
    const r = await execa(io, ['discard', '--dev', '/nonexistent/ih-dev', '--out', '/nonexistent/ih-out'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown or misplaced option '--out'/);
  });
});

describe('ih-io race argv with a churn', () => {
  const race = { cmd: 'race', dev: '/dev/mapper/ih-int', offset: 0, length: 65536, block: 4096, procs: 4, ops: 10, qd: 8, maxBlocks: 8, writePercent: 50, seed: 1, tag: 2 } as const;

  it('writes the device, each table, each cycle as FLAGS/TABLE and the times in microseconds', () => {
    expect(ioArgv({ ...race, churn: { dm: 'ih-int', tables: ['0 8 t a', '0 8 t b'], cycles: [{ flags: 'default', table: 1 }, { flags: 'noflush,nolockfs' }], holdUs: 20000, gapUs: 0 } }).slice(24))
      .toEqual(['--churn-dev', 'ih-int', '--churn-table', '0 8 t a', '--churn-table', '0 8 t b', '--churn-cycle', 'default/1', '--churn-cycle', 'noflush,nolockfs/-',
        '--churn-hold-us', '20000', '--churn-gap-us', '0']);
  });

  it('refuses a path for a name, a cycle naming no table and no cycle at all', () => {
    const churn = { dm: 'ih-int', tables: [], cycles: [{ flags: 'noflush' as const }], holdUs: 0, gapUs: 0 };
    expect(() => ioArgv({ ...race, churn: { ...churn, dm: '/dev/mapper/ih-int' } })).toThrow(/device-mapper name/);
    expect(() => ioArgv({ ...race, churn: { ...churn, cycles: [{ flags: 'default', table: 0 }] } })).toThrow(/table 0 of 0/);
    expect(() => ioArgv({ ...race, churn: { ...churn, cycles: [] } })).toThrow(/1 to 8/);
  });
});
