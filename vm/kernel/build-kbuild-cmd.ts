// Kbuild runs every `$(call cmd,x)` recipe line in a shell, even when cmd_x is empty: with the options the
// harness builds with, checksrc, checkdoc, gen_ksymdeps, gen_symversions and record_mcount are empty, so
// compiling one object starts five shells that do nothing, and even a make with nothing to do starts one per
// object (force_checksrc). Under TCG-era process costs (~10 ms CPU per fork+exec here) that is minutes of CPU
// per clean build. Redefining `cmd` on make's command line (it reaches every sub-make through MAKEFLAGS) as
// the tree's own definition guarded by "is cmd_x non-empty" turns those lines into empty recipe lines, which
// make skips. Nothing make records (.cmd files) changes, so builds with and without it share objects.
import { promises as fs } from 'node:fs';
import path from 'node:path';

const CMD_DEF_RE = /^cmd = (.*)$/m;

/**
 * The make argument `cmd=$(if $(cmd_$(1)),<the tree's definition>)`, from the text of the tree's
 * scripts/Kbuild.include; undefined when the definition is not the one-line form this relies on (then the
 * tree is built as it is).
 */
export function skipEmptyCommandsArg(kbuildInclude: string): string | undefined {
  const body = CMD_DEF_RE.exec(kbuildInclude)?.[1]?.trim();
  if (body === undefined || body.endsWith('\\') || !body.includes('$(cmd_$(1))')) return undefined;
  return `cmd=$(if $(cmd_$(1)),${body})`;
}

/** [that argument] for the tree in srcDir, or [] when the tree has no usable definition or the user set cmd=. */
export async function skipEmptyCommandsArgs(srcDir: string, makeArgs: readonly string[]): Promise<string[]> {
  if (makeArgs.some((arg) => arg.startsWith('cmd='))) return [];
  const text = await fs.readFile(path.join(srcDir, 'scripts/Kbuild.include'), 'utf8').catch(() => '');
  const arg = skipEmptyCommandsArg(text);
  return arg === undefined ? [] : [arg];
}
