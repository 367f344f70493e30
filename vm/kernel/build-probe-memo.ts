// Every make of a kernel tree parses the top Makefile, and that runs ~30 compiler probes (`cc-option`,
// `cc-disable-warning`, `as-instr`, `ld-option`: kbuild's `try-run`), each a shell, mkdir, the compiler through
// ccache and rm: ~1.3 CPU s of a ~9 CPU s one-file rebuild on an idle machine, 3 s under load. A probe's
// outcome depends only on its command text (which holds every flag collected so far) and on the toolchain,
// so the harness redefines `try-run` on make's command line (as build-kbuild-cmd.ts does `cmd`) as the tree's
// own definition behind a memo: a file in the build dir, named after the toolchain, that maps each probe's
// text to its output. The first make of a build dir records it; later makes (and patched builds seeded from a
// copy of the dir) read it instead of probing. The flags come out byte for byte the same (the value keeps
// its leading space: `$(ih-probe-none)` before it), so the kernel does not change.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { hashParts } from './build-cache.ts';
import { makeArgValue, toolWords } from './build-make-args.ts';

const TRY_RUN_RE = /^try-run = (\$\(shell (?:[^\n]*\\\n)*[^\n]*\))$/m;

/** The tree's `try-run` body with make's line continuations joined, when it is the form this relies on. */
export function treeTryRun(makefileText: string): string | undefined {
  const body = TRY_RUN_RE.exec(makefileText)?.[1]?.replace(/[ \t]*\\\n[ \t]*/g, ' ');
  if (body === undefined || !['$(1)', '$(2)', '$(3)'].every((arg) => body.includes(arg))) return undefined;
  return body;
}

/**
 * make arguments that memoise the tree's probes in memoFile. The key is the probe's text with the characters
 * a variable name cannot hold (whitespace, `=`, `:`, `#`, `$`) replaced reversibly; the value is what the
 * tree's try-run printed.
 */
export function probeMemoArgs(tryRun: string, memoFile: string): string[] {
  const key = 'ih-probe|$(subst $(ih-probe-space),|,$(subst =,^e,$(subst :,^c,$(subst $(ih-probe-pound),^h,$(subst $$,^d,$(subst ^,^^,$(1)|$(2)|$(3)))))))';
  // As a makefile line: `$` doubled, `#` escaped, and an empty reference first to keep a leading space.
  const value = '$$(ih-probe-none)$(subst $(ih-probe-pound),\\$(ih-probe-pound),$(subst $$,$$$$,$(2)))';
  return [
    `ih-probe-memo=${memoFile}`,
    // Not the tree's $(space) and $(pound): older trees define them elsewhere or not at all.
    'ih-probe-space=$(ih-probe-none) $(ih-probe-none)',
    'ih-probe-pound=#',
    `ih-probe-key=${key}`,
    `ih-probe-run=${tryRun}`,
    'ih-probe-load=$(if $(ih-probe-loaded),,$(eval ih-probe-loaded := 1)$(eval -include $(ih-probe-memo)))',
    `ih-probe-record=$(file >>$(ih-probe-memo),$(1) := ${value})$(eval $(1) := ${value})$(2)`,
    'try-run=$(ih-probe-load)$(if $(filter undefined,$(origin $(ih-probe-key))),$(call ih-probe-record,$(ih-probe-key),$(ih-probe-run)),$($(ih-probe-key)))',
  ];
}

// The compiler, assembler, linker and host compiler the probes ask: a memo from another toolchain (an upgraded
// package, another CC=) does not apply.
async function toolchainId(makeArgs: readonly string[]): Promise<string> {
  const [cc = 'gcc', ...ccArgs] = toolWords(makeArgs, 'CC', 'gcc');
  const [hostcc = 'gcc', ...hostccArgs] = toolWords(makeArgs, 'HOSTCC', 'gcc');
  const version = async (file: string, args: string[]) => {
    const r = await execa(file, [...args, '--version'], { reject: false });
    return `${file} ${args.join(' ')}: ${r.exitCode} ${r.stdout}`;
  };
  const asVersion = async () => version((await execa(cc, [...ccArgs, '-print-prog-name=as'], { reject: false })).stdout.trim() || 'as', []);
  // every make asks: the tools answer side by side
  return hashParts(await Promise.all([version(cc, ccArgs), asVersion(), version(makeArgValue(makeArgs, 'LD') ?? 'ld', []), version(hostcc, hostccArgs)]));
}

/** The memo arguments for a make of srcDir into outDir, or [] when the tree's try-run is not one it knows or the user set try-run=. */
export async function probeMemoArgsFor(srcDir: string, outDir: string, makeArgs: readonly string[]): Promise<string[]> {
  if (makeArgs.some((arg) => /^(try-run|ih-probe-[a-z-]+)=/.test(arg))) return [];
  for (const file of ['scripts/Makefile.compiler', 'scripts/Kbuild.include']) {
    const text = await fs.readFile(path.join(srcDir, file), 'utf8').catch(() => '');
    const tryRun = treeTryRun(text);
    if (tryRun !== undefined) return probeMemoArgs(tryRun, path.join(outDir, `.ih-probes-${await toolchainId(makeArgs)}.mk`));
  }
  return [];
}
