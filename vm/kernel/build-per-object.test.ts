import { execa } from 'execa';
import { needs, testRequirement } from '../../harness/test/requirements.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeArgValue, toolWords } from './build-make-args.ts';
import { localExportCheckArgs, nmPluginArgs } from './build-per-object.ts';
import { withCcache } from './build.ts';

describe('make argument helpers', () => {
  it('reads the last NAME= and the tool behind a ccache', () => {
    expect(makeArgValue(['CC=gcc-10', 'V=1', 'CC=gcc-12'], 'CC')).toBe('gcc-12');
    expect(makeArgValue(['HOSTCC=gcc'], 'CC')).toBeUndefined();
    expect(toolWords(['CC=ccache gcc -m64'], 'CC', 'gcc')).toEqual(['gcc', '-m64']);
    expect(toolWords(['HOSTCC=/usr/bin/ccache  clang'], 'HOSTCC', 'gcc')).toEqual(['clang']);
    expect(toolWords([], 'LD', 'ld')).toEqual(['ld']);
  });
});

describe('localExportCheckArgs', () => {
  it('leaves the check out only when the configuration has no modules', () => {
    expect(localExportCheckArgs('# CONFIG_MODULES is not set\nCONFIG_BLOCK=y\n', [])).toEqual(['cmd_check_local_export=']);
    expect(localExportCheckArgs('CONFIG_BLOCK=y\nCONFIG_MODULES=y\n', [])).toEqual([]);
    expect(localExportCheckArgs('# CONFIG_MODULES is not set\n', ['cmd_check_local_export=true'])).toEqual([]);
  });
});

describe('nmPluginArgs', () => {
  it('leaves the tools alone when the user chose them or the compiler is not gcc', async () => {
    expect(await nmPluginArgs(['NM=llvm-nm'])).toEqual([]);
    expect(await nmPluginArgs(['LLVM=1'])).toEqual([]);
    expect(await nmPluginArgs(['CROSS_COMPILE=x86_64-linux-gnu-'])).toEqual([]);
    expect(await nmPluginArgs(['CC=ccache clang'])).toEqual([]);
    expect(await nmPluginArgs(['CC=/nonexistent/gcc'])).toEqual([]);
  });

  const gcc = execa('gcc', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);

  it("names gcc's plugin, and nm lists a gcc object the same with it", async () => {
    if (!(await gcc)) throw new Error('this test needs gcc, which is missing: apt-get install -y gcc');
    const args = await nmPluginArgs(['CC=ccache gcc']);
    expect(args).toEqual([expect.stringMatching(/^NM=nm --plugin \/\S+\/liblto_plugin\.so$/)]);
    const dir = mkdtempSync(path.join(tmpdir(), 'ih-nm-'));
    writeFileSync(path.join(dir, 'a.c'), 'static int local_one(void) { return 1; }\nint global_one(void) { return local_one(); }\nextern int undefined_one;\nint *p = &undefined_one;\n');
    await execa('gcc', ['-O1', '-c', '-o', 'a.o', 'a.c'], { cwd: dir });
    const plain = (await execa('nm', ['a.o'], { cwd: dir })).stdout;
    const nm = args[0]!.slice('NM='.length).split(' ');
    const withPlugin = (await execa(nm[0]!, [...nm.slice(1), 'a.o'], { cwd: dir })).stdout;
    expect(plain).toMatch(/ T global_one$/m);
    expect(plain).toMatch(/ U undefined_one$/m);
    expect(withPlugin).toBe(plain);
  });
});

describe('withCcache', () => {
  const ccache = execa('ccache', ['--version'], { reject: false }).then((r) => r.exitCode === 0, () => false);

  it('puts ccache in front of the target and the host compiler, leaving LLVM= builds and given wrappers alone', async () => {
    await needs(testRequirement('ccache'));
    expect(await withCcache([])).toEqual(['CC=ccache gcc', 'HOSTCC=ccache gcc']);
    expect(await withCcache(['V=1', 'CC=gcc-10'])).toEqual(['HOSTCC=ccache gcc', 'V=1', 'CC=ccache gcc-10']);
    expect(await withCcache(['HOSTCC=distcc gcc', 'CC=ccache gcc'])).toEqual(['HOSTCC=ccache distcc gcc', 'CC=ccache gcc']);
    expect(await withCcache(['CROSS_COMPILE=x86_64-linux-gnu-'])).toEqual(['CC=ccache x86_64-linux-gnu-gcc', 'HOSTCC=ccache gcc', 'CROSS_COMPILE=x86_64-linux-gnu-']);
    expect(await withCcache(['LLVM=1'])).toEqual(['LLVM=1']);
    expect(await withCcache(['LLVM=1', 'CC=clang'])).toEqual(['LLVM=1', 'CC=ccache clang']);
  });
});
