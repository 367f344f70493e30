// Reading the user's make arguments (`--make-arg CC=gcc-10` and the builder's own `CC=ccache gcc`).
import path from 'node:path';

/** The value of the last NAME=... argument, or undefined. */
export function makeArgValue(makeArgs: readonly string[], name: string): string | undefined {
  const arg = [...makeArgs].reverse().find((a) => a.startsWith(`${name}=`));
  return arg?.slice(name.length + 1);
}

/** The command a tool variable (CC, HOSTCC, LD) runs, as words, without a ccache in front. */
export function toolWords(makeArgs: readonly string[], name: string, fallback: string): string[] {
  const words = (makeArgValue(makeArgs, name) ?? fallback).split(/\s+/).filter((w) => w !== '');
  return words[0] !== undefined && path.basename(words[0]) === 'ccache' ? words.slice(1) : words;
}
