/**
 * What a kernel of a run was made of, read back from its summary record: the spec without build options,
 * the --patch/--kconfig/--make-arg words that came with it (a source kernel's spec text carries them,
 * vm/kernel/spec.ts withBuildOptions), the patches kept in the run, the git commit when the source says one.
 */
import type { KernelRecord } from '../results.ts';

export interface KernelInputs {
  /** The --kernel value alone, e.g. "src:6.1". */
  base: string;
  patches: string[];
  kconfig: string[];
  makeArgs: string[];
  toolchainImage?: string;
}

const OPTION = /\s+--(patch|kconfig|make-arg|toolchain-image)\s+/;

/** "src:6.1 --patch a.patch --make-arg CC=gcc-12" -> its parts; the inverse of withBuildOptions. */
export function splitKernelSpec(text: string): KernelInputs {
  const parts = text.split(OPTION);
  const out: KernelInputs = { base: parts[0]!.trim(), patches: [], kconfig: [], makeArgs: [] };
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const value = parts[i + 1]!.trim();
    if (parts[i] === 'patch') out.patches.push(value);
    else if (parts[i] === 'kconfig') out.kconfig.push(value);
    else if (parts[i] === 'toolchain-image') out.toolchainImage = value;
    else out.makeArgs.push(value);
  }
  return out;
}

/** The matrix arguments that name this kernel again: --kernel <base> and its build options, in order. */
export function kernelArgs(spec: string, flag = '--kernel'): string[] {
  const k = splitKernelSpec(spec);
  return [
    flag, k.base,
    ...k.patches.flatMap((p) => ['--patch', p]),
    ...k.kconfig.flatMap((c) => ['--kconfig', c]),
    ...k.makeArgs.flatMap((m) => ['--make-arg', m]),
    ...(k.toolchainImage !== undefined ? ['--toolchain-image', k.toolchainImage] : []),
  ];
}

/** The 40-hex commit a built kernel's source names ("git tree /src/linux at v6.2 (<commit>)"), if any. */
export function gitCommitOf(k: KernelRecord): string | undefined {
  return /\(([0-9a-f]{40})\)/.exec(k.source ?? '')?.[1];
}

/** A POSIX shell word: quoted only when it has to be, so a command line reads as people write it. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
