// Known build failures of old trees (4.x) with a new toolchain (Debian 12's GCC 12, binutils 2.40), read from
// the build log, each with the exact option that gets past it. Kept narrow: a diagnosis that fires on an
// ordinary compile error would teach users to ignore it.

export interface BuildDiagnosis {
  /** Short name of the failure ("yylloc", "pie", "cf-protection", "objtool", "werror"). */
  id: string;
  /** The log line it was recognised by. */
  line: string;
  /** What to pass to get past it. */
  fix: string;
}

const HOST_TOOL = /^(?:\S*\/)?(?:scripts|tools)\//;
/** kbuild's and tools/build's "  CC  <object>" lines: which object the compiler messages after it are about. */
const COMPILE_STEP = /^\s+(?:HOSTCC|CC|HOSTCXX|HOSTLD|LD|AS)\s+(\S+)/;

interface Rule {
  id: string;
  test: RegExp;
  /** `object`: what the last compile step before the line was building (host tools print bare file names) */
  fix: (m: RegExpExecArray, line: string, object: string) => string;
}

const RULES: Rule[] = [
  {
    id: 'yylloc',
    test: /multiple definition of [`'‘]yylloc/,
    fix: () => "GCC 10 and later default to -fno-common and this tree's dtc defines yylloc twice (fixed upstream in 5.7): --make-arg HOSTCFLAGS=-fcommon",
  },
  {
    id: 'cf-protection',
    test: /['‘]-mindirect-branch['’] and ['‘]-fcf-protection['’] are not compatible/,
    fix: () => 'the compiler turns on -fcf-protection by default and this tree\'s retpoline flags clash with it: --make-arg KCFLAGS=-fcf-protection=none',
  },
  {
    id: 'pie',
    test: /code model kernel does not support PIC mode|-mfentry isn['’]t supported .* -fpic|can not be used when making a PIE object|recompile with -fPIE/,
    fix: () => "the compiler builds position-independent code by default and this tree predates kbuild's -fno-PIE: --make-arg 'CC=gcc -fno-PIE' (and 'HOSTCC=gcc -no-pie' if host tools fail to link)",
  },
  {
    id: 'objtool',
    test: /(?:^|\s)objtool: |tools\/objtool\/\S+: (?:error|In function)|\btools\/objtool\b.*Error \d/,
    fix: () =>
      "this tree's objtool does not build with, or does not understand the output of, this toolchain: build with an older GCC (--make-arg CC=gcc-<version> --make-arg HOSTCC=gcc-<version>, or --toolchain-image <an image that has it>) " +
      "or turn stack validation off with a --kconfig fragment holding '# CONFIG_STACK_VALIDATION is not set' and CONFIG_UNWINDER_FRAME_POINTER=y",
  },
  {
    id: 'werror',
    test: /\[-Werror=([A-Za-z0-9-]+)=?\]/,
    fix: (m, line, object) => HOST_TOOL.test(line) || /(?:^|\/)(?:scripts|tools)\//.test(object)
      ? `a warning this tree's host tools treat as an error is new in this GCC: --make-arg HOSTCFLAGS=-Wno-error=${m[1]}`
      : `a warning this tree treats as an error is new in this GCC: --make-arg KCFLAGS=-Wno-error=${m[1]}`,
  },
];

/** The known failures the log lines show, at most one per kind, in the order the rules are listed. */
export function diagnoseBuildLog(lines: readonly string[]): BuildDiagnosis[] {
  const out: BuildDiagnosis[] = [];
  for (const rule of RULES) {
    let object = '';
    for (const line of lines) {
      const step = COMPILE_STEP.exec(line);
      if (step !== null) object = step[1]!;
      const m = rule.test.exec(line);
      if (m === null) continue;
      out.push({ id: rule.id, line: line.trim(), fix: rule.fix(m, line.trim(), object) });
      break;
    }
  }
  return out;
}

/**
 * One line for the build failure's message (buildFailureReason keeps the line starting "This looks like a compiler").
 * Every one of these is a tree older than its compiler, so the compiler of the tree's time is always a way out.
 */
export function diagnosisHint(found: readonly BuildDiagnosis[]): string | undefined {
  if (found.length === 0) return undefined;
  return `This looks like a compiler/tree mismatch: ${found.map((d) => `${d.id}: ${d.fix}`).join('; ')}; ` +
    'or build with the GCC of the tree\'s time in a container: --toolchain-image <image> (docs/matrix.md, "Building in a toolchain container")';
}
