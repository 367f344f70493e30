import { describe, expect, it } from 'vitest';
import { nonSourceReason, parseDependencyText, patchedFilesOf, planFastRebuild, type PlanInput } from './build-fast-plan.ts';

const modify = (file: string, removed = '-old') => `--- a/${file}\n+++ b/${file}\n@@ -1,2 +1,2 @@\n ctx\n${removed}\n+new\n`;

describe('patchedFilesOf', () => {
  it('lists the files modified in place, across patches, once each', () => {
    const git = `diff --git a/block/bio-integrity.c b/block/bio-integrity.c\nindex 1..2 100644\n${modify('block/bio-integrity.c')}`;
    expect(patchedFilesOf([git + modify('drivers/md/dm-crypt.c'), modify('block/bio-integrity.c')])).toEqual({
      files: ['block/bio-integrity.c', 'drivers/md/dm-crypt.c'],
    });
  });

  it('takes -p1 names with any first component and a timestamp', () => {
    const text = '--- linux.orig/mm/filemap.c\t2024-01-01 00:00:00\n+++ linux/mm/filemap.c\t2024-01-02 00:00:00\n@@ -1 +1 @@\n-a\n+b\n';
    expect(patchedFilesOf([text])).toEqual({ files: ['mm/filemap.c'] });
  });

  it('does not read a removed "-- " line inside a hunk as a file header', () => {
    // The hunk: context "a", removed line "-- /dev/null", added line "++ b/evil.c". Nothing here creates a file.
    const text = '--- a/lib/x.c\n+++ b/lib/x.c\n@@ -1,2 +1,2 @@\n a\n--- /dev/null\n+++ b/evil.c\n';
    expect(patchedFilesOf([text])).toEqual({ files: ['lib/x.c'] });
  });

  it('refuses new, deleted, renamed, mode-changed and binary files', () => {
    expect(patchedFilesOf(['--- /dev/null\n+++ b/drivers/md/new.c\n@@ -0,0 +1 @@\n+x\n'])).toEqual({ reason: 'the patch creates drivers/md/new.c' });
    expect(patchedFilesOf(['--- a/drivers/md/old.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n'])).toEqual({ reason: 'the patch deletes drivers/md/old.c' });
    expect(patchedFilesOf(['--- a/a.c\n+++ b/b.c\n@@ -1 +1 @@\n-x\n+y\n'])).toEqual({ reason: 'the patch renames a.c to b.c' });
    const rename = 'diff --git a/x.c b/y.c\nsimilarity index 100%\nrename from x.c\nrename to y.c\n';
    const next = `diff --git a/z.c b/z.c\nindex 1..2 100644\n${modify('z.c')}`;
    expect(patchedFilesOf([next + rename + next])).toEqual({ reason: 'the patch renames or copies x.c to y.c' });
    const mode = 'diff --git a/x.c b/x.c\nold mode 100644\nnew mode 100755\n';
    expect(patchedFilesOf([mode])).toEqual({ reason: 'the patch changes the mode of x.c' });
    const created = `diff --git a/n.c b/n.c\nnew file mode 100644\nindex 0..1\n--- /dev/null\n+++ b/n.c\n@@ -0,0 +1 @@\n+x\n`;
    expect(patchedFilesOf([created])).toEqual({ reason: 'the patch creates n.c' });
    expect(patchedFilesOf(['diff --git a/f.bin b/f.bin\nBinary files a/f.bin and b/f.bin differ\n'])).toEqual({
      reason: 'the patch changes the binary file f.bin',
    });
    expect(patchedFilesOf(['just a description\n'])).toEqual({ reason: 'the patches change no file' });
  });
});

describe('nonSourceReason', () => {
  it('lets C and assembler sources through and names everything else', () => {
    expect(nonSourceReason('drivers/md/dm-crypt.c')).toBeUndefined();
    expect(nonSourceReason('include/linux/bio.h')).toBeUndefined();
    expect(nonSourceReason('arch/x86/lib/memcpy_64.S')).toBeUndefined();
    expect(nonSourceReason('drivers/md/Makefile')).toBe('the patch touches drivers/md/Makefile (not a .c, .h or .S file)');
    expect(nonSourceReason('drivers/md/Kconfig')).toMatch(/not a \.c, \.h or \.S file/);
    expect(nonSourceReason('arch/x86/entry/syscalls/syscall_64.tbl')).toMatch(/not a \.c/);
    expect(nonSourceReason('scripts/mod/modpost.c')).toMatch(/scripts\/ and tools\/ build host programs/);
    expect(nonSourceReason('tools/objtool/check.c')).toMatch(/host programs/);
  });
});

describe('parseDependencyText', () => {
  it('reads kbuild .cmd files: source_, deps_ (without $(wildcard)), not the command line', () => {
    const cmd = [
      'cmd_drivers/md/dm-crypt.o := ccache gcc -Wp,-MMD,drivers/md/.dm-crypt.o.d -c -o drivers/md/dm-crypt.o ../drivers/md/dm-crypt.c',
      '',
      'source_drivers/md/dm-crypt.o := ../drivers/md/dm-crypt.c',
      '',
      'deps_drivers/md/dm-crypt.o := \\',
      '    $(wildcard include/config/BLK_DEV_ZONED) \\',
      '  ../include/linux/compiler-version.h \\',
      '  include/generated/autoconf.h \\',
      '  ../include/linux/bio.h \\',
      '',
      'drivers/md/dm-crypt.o: $(deps_drivers/md/dm-crypt.o)',
      '',
      '$(deps_drivers/md/dm-crypt.o):',
      '',
      "drivers/md/dm-crypt.o: $(wildcard ./tools/objtool/objtool)",
    ].join('\n');
    expect(parseDependencyText(cmd)).toEqual([
      {
        target: 'drivers/md/dm-crypt.o',
        deps: ['../drivers/md/dm-crypt.c', '../include/linux/compiler-version.h', 'include/generated/autoconf.h', '../include/linux/bio.h'],
      },
    ]);
  });

  it('reads make dependency files (.d) and tools/ command files with absolute targets', () => {
    const d = 'missing-syscalls: ../scripts/checksyscalls.sh \\\n ../include/linux/types.h\n../include/linux/types.h:\n';
    expect(parseDependencyText(d)).toEqual([{ target: 'missing-syscalls', deps: ['../scripts/checksyscalls.sh', '../include/linux/types.h'] }]);
    const tools = 'cmd_/b/tools/objtool/elf.o := gcc -c elf.c\n\nsource_/b/tools/objtool/elf.o := elf.c\n\ndeps_/b/tools/objtool/elf.o := \\\n  /s/tools/include/linux/list.h \\\n';
    expect(parseDependencyText(tools)).toEqual([{ target: '/b/tools/objtool/elf.o', deps: ['elf.c', '/s/tools/include/linux/list.h'] }]);
  });
});

describe('planFastRebuild', () => {
  const members = new Set(['block/bio-integrity.o', 'drivers/md/dm-crypt.o', 'drivers/md/dm-flakey.o', 'init/main.o']);
  const input = (over: Partial<PlanInput>): PlanInput => ({
    patched: { files: ['block/bio-integrity.c', 'drivers/md/dm-crypt.c'] },
    dependents: new Map([
      ['block/bio-integrity.c', ['block/bio-integrity.o']],
      ['drivers/md/dm-crypt.c', ['drivers/md/dm-crypt.o']],
    ]),
    missing: [],
    vmlinuxMembers: members,
    ...over,
  });

  it('takes the fast path when every dependent is a vmlinux.a object', () => {
    expect(planFastRebuild(input({}))).toEqual({
      kind: 'fast',
      objects: ['block/bio-integrity.o', 'drivers/md/dm-crypt.o'],
      reason: '2 objects depend on the patch (block/bio-integrity.o, drivers/md/dm-crypt.o)',
    });
    const header = input({ patched: { files: ['include/linux/bio.h'] }, dependents: new Map([['include/linux/bio.h', ['drivers/md/dm-crypt.o', 'block/bio-integrity.o']]]) });
    expect(planFastRebuild(header)).toMatchObject({ kind: 'fast', objects: ['block/bio-integrity.o', 'drivers/md/dm-crypt.o'] });
  });

  it('names each reason for the full make', () => {
    expect(planFastRebuild(input({ patched: { reason: 'the patch creates x.c' } }))).toEqual({ kind: 'full', reason: 'the patch creates x.c' });
    expect(planFastRebuild(input({ patched: { files: ['drivers/md/Makefile'] } }))).toEqual({
      kind: 'full',
      reason: 'the patch touches drivers/md/Makefile (not a .c, .h or .S file)',
    });
    expect(planFastRebuild(input({ missing: ['drivers/md/dm-crypt.c'] }))).toEqual({
      kind: 'full',
      reason: 'drivers/md/dm-crypt.c is not a regular file in both the base and the patched tree',
    });
    expect(planFastRebuild(input({ dependents: new Map([['block/bio-integrity.c', ['block/bio-integrity.o']]]) }))).toEqual({
      kind: 'full',
      reason: 'no build target records a dependency on drivers/md/dm-crypt.c',
    });
    const offsets = new Map([['include/linux/bio.h', ['block/bio-integrity.o', 'arch/x86/kernel/asm-offsets.s']]]);
    expect(planFastRebuild(input({ patched: { files: ['include/linux/bio.h'] }, dependents: offsets }))).toEqual({
      kind: 'full',
      reason: 'arch/x86/kernel/asm-offsets.s depends on include/linux/bio.h and is not an object in vmlinux.a',
    });
    expect(planFastRebuild(input({ maxObjects: 1 }))).toEqual({ kind: 'full', reason: '2 objects depend on the patch (more than 1)' });
    const odd = new Set([...members, 'drivers/md/dm$(x).o']);
    expect(planFastRebuild(input({ vmlinuxMembers: odd, dependents: new Map([['block/bio-integrity.c', ['drivers/md/dm$(x).o']], ['drivers/md/dm-crypt.c', ['drivers/md/dm-crypt.o']]]) }))).toEqual({
      kind: 'full',
      reason: 'drivers/md/dm$(x).o depends on block/bio-integrity.c and its name is not a plain path',
    });
  });
});
