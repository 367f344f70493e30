// Errors of the kernel builder: a usage problem (KernelSpecError) is the caller's to fix and aborts;
// a build problem (KernelBuildError) means "this kernel cannot be tested" (cells skip, bisect exit 125).
import { UsageError } from '../../harness/errors.ts';

export class KernelSpecError extends UsageError {
  override name = 'KernelSpecError';
}

export class KernelBuildError extends Error {
  override name = 'KernelBuildError';
  readonly logTail: string[];
  readonly logFile: string | undefined;

  constructor(message: string, opts: { logTail?: string[]; logFile?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.logTail = opts.logTail ?? [];
    this.logFile = opts.logFile;
  }
}

// Symptoms of an old tree built with a newer compiler (or the reverse). Kept narrow: a hint that
// fires on ordinary compile errors would teach users to ignore it.
const COMPILER_MISMATCH_PATTERNS: RegExp[] = [
  /unrecognized command[- ]line option ['‘`"]?-/i,
  /unknown warning option/i,
  /error: .*asm goto/i,
  /objtool: /,
  /multiple definition of [`'‘]yylloc/,
  /-Werror=(array-bounds|stringop-|use-after-free|dangling-pointer|address-of-packed-member|format-overflow|restrict|zero-length-bounds|enum-int-mismatch|infinite-recursion)/,
  /internal compiler error/i,
  /(compiler|gcc|GCC) (is )?too old|version of GCC is too old|Sorry, this (kernel|compiler)/i,
  /impossible constraint in ['‘]asm['’]/,
  /error: invalid argument .* to ['‘]-m/,
  /compiler-gcc\d*\.h: No such file/,
];

export function looksLikeCompilerMismatch(lines: readonly string[]): boolean {
  return lines.some((line) => COMPILER_MISMATCH_PATTERNS.some((re) => re.test(line)));
}

export const COMPILER_MISMATCH_HINT =
  'This looks like a compiler/tree mismatch (an old tree with a new GCC, or the reverse): ' +
  'try an older or newer compiler with --make-arg CC=gcc-<version> (and HOSTCC=... if host tools fail).';

// A patch that does not apply to this tree: the kernel cannot be built as asked (bisect: skip).
export class KernelPatchError extends KernelBuildError {
  override name = 'KernelPatchError';
  readonly patchFile: string;

  constructor(patchFile: string, message: string, opts: { logTail?: string[]; logFile?: string } = {}) {
    super(message, opts);
    this.patchFile = patchFile;
  }
}

/**
 * Thrown when a kernel cannot be had here (offline, or its download failed a check): its cells become `skip`.
 * `message` is the full how-to, shown once per kernel; `short` is the one-line reason each skipped cell carries.
 */
export class KernelUnavailableError extends Error {
  override name = 'KernelUnavailableError';
  readonly short: string;

  constructor(message: string, opts: { short?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.short = opts.short ?? message;
  }
}
