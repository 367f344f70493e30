// The fast path's I/O on a fake build dir: kbuild-style .cmd files under srctree=.., a thin vmlinux.a made
// with the real `ar` the builder uses, and the patched source next to them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependentTargets, fastRebuildMakefile, findFastRebuild, staleAfterFastRebuild } from './build-fast.ts';

const root = mkdtempSync(path.join(tmpdir(), 'ih-fast-'));
const base = path.join(root, 'base');
const src = path.join(root, 'patched');
const out = path.join(src, 'ih-out-x');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function cmdFile(target: string, source: string, deps: string[]): string {
  return [
    `cmd_${target} := gcc -c -o ${target} ${source}`,
    '',
    `source_${target} := ${source}`,
    '',
    `deps_${target} := \\`,
    '    $(wildcard include/config/FOO) \\',
    ...deps.map((d) => `  ${d} \\`),
    '',
    `${target}: $(deps_${target})`,
    '',
    `$(deps_${target}):`,
  ].join('\n');
}

const modify = (file: string) => `--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-old\n+new\n`;

beforeAll(async () => {
  for (const tree of [base, src]) {
    for (const f of ['block/bio-integrity.c', 'drivers/md/dm-crypt.c', 'include/linux/bio.h', 'arch/x86/kernel/asm-offsets.c', 'include/linux/unused.h']) {
      write(path.join(tree, f), 'old\n');
    }
  }
  write(path.join(out, 'block/.bio-integrity.o.cmd'), cmdFile('block/bio-integrity.o', '../block/bio-integrity.c', ['../include/linux/bio.h']));
  write(path.join(out, 'drivers/md/.dm-crypt.o.cmd'), cmdFile('drivers/md/dm-crypt.o', '../drivers/md/dm-crypt.c', ['../include/linux/bio.h']));
  write(path.join(out, 'arch/x86/kernel/.asm-offsets.s.cmd'), cmdFile('arch/x86/kernel/asm-offsets.s', '../arch/x86/kernel/asm-offsets.c', ['include/generated/autoconf.h']));
  write(path.join(out, 'tools/objtool/.elf.o.cmd'), cmdFile(`${out}/tools/objtool/elf.o`, 'elf.c', [`${src}/include/linux/bio.h`]));
  for (const o of ['block/bio-integrity.o', 'drivers/md/dm-crypt.o', 'arch/x86/kernel/asm-offsets.s']) write(path.join(out, o), 'obj');
  await execa('ar', ['cDPrST', 'vmlinux.a', 'block/bio-integrity.o', 'drivers/md/dm-crypt.o'], { cwd: out });
});

describe('dependentTargets', () => {
  it('maps each patched file to the targets recording it, relative to the build dir', async () => {
    const deps = await dependentTargets(src, out, ['block/bio-integrity.c', 'include/linux/bio.h', 'include/linux/unused.h']);
    expect(deps.get('block/bio-integrity.c')).toEqual(['block/bio-integrity.o']);
    expect(deps.get('include/linux/bio.h')).toEqual(['block/bio-integrity.o', 'drivers/md/dm-crypt.o', 'tools/objtool/elf.o']);
    expect(deps.get('include/linux/unused.h')).toEqual([]);
  });
});

describe('findFastRebuild', () => {
  const plan = (texts: string[]) => findFastRebuild({ baseSrcDir: base, srcDir: src, outDir: out, patchTexts: texts });

  it('plans the objects of a two-file patch (the seed regression shape)', async () => {
    expect(await plan([modify('block/bio-integrity.c') + modify('drivers/md/dm-crypt.c')])).toEqual({
      kind: 'fast',
      objects: ['block/bio-integrity.o', 'drivers/md/dm-crypt.o'],
      reason: '2 objects depend on the patch (block/bio-integrity.o, drivers/md/dm-crypt.o)',
    });
  });

  it('falls back when a dependent is outside vmlinux.a, nothing records the file, or the file is new', async () => {
    expect(await plan([modify('include/linux/bio.h')])).toEqual({
      kind: 'full',
      reason: 'tools/objtool/elf.o depends on include/linux/bio.h and is not an object in vmlinux.a',
    });
    expect(await plan([modify('arch/x86/kernel/asm-offsets.c')])).toMatchObject({ kind: 'full', reason: expect.stringMatching(/asm-offsets\.s depends on/) });
    expect(await plan([modify('include/linux/unused.h')])).toEqual({ kind: 'full', reason: 'no build target records a dependency on include/linux/unused.h' });
    write(path.join(src, 'block/only-patched.c'), 'new\n');
    expect(await plan([modify('block/only-patched.c')])).toEqual({
      kind: 'full',
      reason: 'block/only-patched.c is not a regular file in both the base and the patched tree',
    });
  });
});

describe('fastRebuildMakefile', () => {
  it('makes vmlinux.a depend on a stamp that builds the objects through kbuild from the top directory', () => {
    expect(fastRebuildMakefile(['block/bio-integrity.o', 'drivers/md/dm-crypt.o'])).toBe(
      [
        '# Written by integrity-harness (vm/kernel/build-fast.ts) for one fast-path make; read after the top Makefile.',
        'KERNELRELEASE := $(KERNELRELEASE)',
        'PAHOLE_FLAGS := $(PAHOLE_FLAGS)',
        '.ih-fast-rebuild: FORCE',
        '\t$(Q)$(MAKE) $(build)=. ./block/bio-integrity.o ./drivers/md/dm-crypt.o',
        '\t$(Q)touch $@',
        'vmlinux.a: .ih-fast-rebuild',
        '',
      ].join('\n'),
    );
  });
});

describe('fastRebuildMakefile with real make', () => {
  // The top Makefile's KERNELRELEASE and PAHOLE_FLAGS are recursive and exported: make runs their $(shell ...)
  // for every recipe. Read after it, the fast makefile makes each run once, with the same value.
  it('evaluates the exported $(shell ...) variables once', async () => {
    const dir = path.join(root, 'exported');
    write(path.join(dir, 'release'), '6.1.0-test\n');
    write(
      path.join(dir, 'Makefile'),
      [
        'KERNELRELEASE = $(shell echo r >> runs; cat release)',
        'PAHOLE_FLAGS = $(shell echo p >> runs)',
        'export KERNELRELEASE PAHOLE_FLAGS',
        'all: a b c',
        'a b c: FORCE',
        '\t@echo $@ $$KERNELRELEASE',
        'FORCE:',
        '',
      ].join('\n'),
    );
    write(path.join(dir, 'fast.mk'), fastRebuildMakefile(['x.o']));
    const runs = () => readFileSync(path.join(dir, 'runs'), 'utf8').split('\n').filter(Boolean);
    const plain = await execa('make', ['-s', '-C', dir, '-f', 'Makefile', 'all']);
    expect(plain.stdout.split('\n')).toEqual(['a 6.1.0-test', 'b 6.1.0-test', 'c 6.1.0-test']);
    expect(runs().filter((r) => r === 'r').length).toBeGreaterThanOrEqual(3);
    rmSync(path.join(dir, 'runs'));
    const fast = await execa('make', ['-s', '-C', dir, '-f', 'Makefile', '-f', 'fast.mk', 'all']);
    expect(fast.stdout).toBe(plain.stdout);
    expect(runs().sort()).toEqual(['p', 'r']);
  });
});

describe('staleAfterFastRebuild', () => {
  it('names objects not rebuilt since the make started and links older than an object', async () => {
    const dir = path.join(root, 'stale');
    const started = Date.now();
    for (const f of ['a.o', 'b.o', 'vmlinux.o', 'vmlinux', 'arch/x86/boot/bzImage']) write(path.join(dir, f), 'x');
    const old = new Date(started - 60_000);
    utimesSync(path.join(dir, 'b.o'), old, old);
    const bz = 'arch/x86/boot/bzImage';
    for (const image of ['vmlinux', bz]) {
      expect(await staleAfterFastRebuild(dir, ['a.o'], image, started)).toEqual([]);
      expect(await staleAfterFastRebuild(dir, ['a.o', 'b.o'], image, started)).toEqual(['b.o']);
    }
    utimesSync(path.join(dir, bz), old, old);
    // The bzImage only counts when it is the boot image.
    expect(await staleAfterFastRebuild(dir, ['a.o'], 'vmlinux', started)).toEqual([]);
    expect(await staleAfterFastRebuild(dir, ['a.o'], bz, started)).toEqual([bz]);
    utimesSync(path.join(dir, 'vmlinux'), old, old);
    expect(await staleAfterFastRebuild(dir, ['a.o'], 'vmlinux', started)).toEqual(['vmlinux']);
  });
});
