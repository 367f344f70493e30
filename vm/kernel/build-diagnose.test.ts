import { describe, expect, it } from 'vitest';
import { diagnoseBuildLog, diagnosisHint } from './build-diagnose.ts';

// Lines as make prints them when an old tree meets a new GCC; the yylloc, PIC-mode and cf-protection lines are
// as public build logs quote them (GCC 10+ and Ubuntu's/Debian's default-PIE GCC).
const YYLLOC = [
  '  HOSTLD  scripts/dtc/dtc',
  "/usr/bin/ld: scripts/dtc/dtc-parser.tab.o:(.bss+0x10): multiple definition of `yylloc'; scripts/dtc/dtc-lexer.lex.o:(.bss+0x0): first defined here",
  'collect2: error: ld returned 1 exit status',
  'make[2]: *** [scripts/Makefile.host:116: scripts/dtc/dtc] Error 1',
];
const CF = [
  '  CC      kernel/bounds.s',
  "cc1: error: '-mindirect-branch' and '-fcf-protection' are not compatible",
  'make[1]: *** [Kbuild:21: kernel/bounds.s] Error 1',
];
const PIE = [
  '  CC      scripts/mod/empty.o',
  'scripts/mod/empty.c:1:0: error: code model kernel does not support PIC mode',
  'cc1: error: code model kernel does not support PIC mode',
  'make[2]: *** [scripts/mod/empty.o] Error 1',
];
const OBJTOOL = [
  "tools/objtool/elf.c: In function 'elf_read':",
  "tools/objtool/elf.c:424:35: error: '%s' directive argument is null [-Werror=format-overflow=]",
  'make[4]: *** [tools/build/Makefile.build:96: /b/tools/objtool/elf.o] Error 1',
];
const WERROR = [
  '  CC      drivers/md/dm-integrity.o',
  "drivers/md/dm-integrity.c:1234:17: error: array subscript 3 is above array bounds of 'u8[3]' [-Werror=array-bounds]",
  'make[2]: *** [scripts/Makefile.build:302: drivers/md/dm-integrity.o] Error 1',
];
// As a real 4.19.72 tree's build printed them with Debian 12's GCC 12 (build dir shortened to /b): objtool's
// own libsubcmd fails under -Werror; a --kconfig fragment turning stack validation off built that tree.
const OBJTOOL_419 = [
  '  CC       /b/tools/objtool/help.o',
  'In file included from help.c:12:',
  "In function ‘xrealloc’,",
  "subcmd-util.h:56:23: error: pointer may be used after ‘realloc’ [-Werror=use-after-free]",
  'cc1: all warnings being treated as errors',
  'make[5]: *** [/src/linux-4.19.72/tools/build/Makefile.build:97: /b/tools/objtool/help.o] Error 1',
  'make[1]: *** [/src/linux-4.19.72/Makefile:1647: tools/objtool] Error 2',
];
const PLAIN = [
  "drivers/md/dm-integrity.c:99:5: error: 'foo' undeclared (first use in this function)",
  'make[2]: *** [scripts/Makefile.build:302: drivers/md/dm-integrity.o] Error 1',
];

describe('diagnoseBuildLog', () => {
  it('on a real 4.19 log: objtool, and the -Werror of a host tool, answered with HOSTCFLAGS', () => {
    const found = diagnoseBuildLog(OBJTOOL_419);
    expect(found.map((d) => d.id)).toEqual(['objtool', 'werror']);
    expect(found[0]!.fix).toContain("'# CONFIG_STACK_VALIDATION is not set'");
    expect(found[1]!.fix).toContain('--make-arg HOSTCFLAGS=-Wno-error=use-after-free');
  });


  it('names HOSTCFLAGS=-fcommon for dtc\'s double yylloc', () => {
    expect(diagnoseBuildLog(YYLLOC)).toEqual([{ id: 'yylloc', line: YYLLOC[1], fix: expect.stringContaining('--make-arg HOSTCFLAGS=-fcommon') }]);
  });

  it('names KCFLAGS=-fcf-protection=none for the retpoline / CET clash', () => {
    expect(diagnoseBuildLog(CF).map((d) => [d.id, d.fix.split(': ').at(-1)])).toEqual([['cf-protection', '--make-arg KCFLAGS=-fcf-protection=none']]);
  });

  it("names CC='gcc -fno-PIE' for a compiler that builds PIE by default", () => {
    expect(diagnoseBuildLog(PIE).map((d) => [d.id, d.line])).toEqual([['pie', PIE[1]]]);
    expect(diagnoseBuildLog(PIE)[0]!.fix).toContain("--make-arg 'CC=gcc -fno-PIE'");
  });

  it('sees an objtool that does not build, and its -Werror as a host tool\'s (HOSTCFLAGS, not KCFLAGS)', () => {
    const d = diagnoseBuildLog(OBJTOOL);
    expect(d.map((x) => x.id)).toEqual(['objtool', 'werror']);
    expect(d[0]!.fix).toContain("'# CONFIG_STACK_VALIDATION is not set'");
    expect(d[1]!.fix).toContain('--make-arg HOSTCFLAGS=-Wno-error=format-overflow');
  });

  it('names the warning that -Werror turned into an error in kernel code', () => {
    expect(diagnoseBuildLog(WERROR)).toEqual([{ id: 'werror', line: WERROR[1], fix: expect.stringMatching(/--make-arg KCFLAGS=-Wno-error=array-bounds$/) }]);
  });

  it('says nothing about an ordinary compile error', () => {
    expect(diagnoseBuildLog(PLAIN)).toEqual([]);
    expect(diagnosisHint([])).toBeUndefined();
  });

  it('puts every diagnosis on the one hint line buildFailureReason keeps', () => {
    const hint = diagnosisHint(diagnoseBuildLog([...YYLLOC, ...WERROR]))!;
    expect(hint.split('\n')).toHaveLength(1);
    expect(hint).toMatch(/^This looks like a compiler\/tree mismatch: yylloc: .*HOSTCFLAGS=-fcommon; werror: .*KCFLAGS=-Wno-error=array-bounds; or build with the GCC of the tree.s time in a container: --toolchain-image <image> .*$/);
  });
});
