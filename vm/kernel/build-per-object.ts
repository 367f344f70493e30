// Two things kbuild does for every object that cost the harness's builds a third of their CPU from a warm
// ccache (docs/kernel-build-time.md, "Per-object tools"), both without changing the kernel:
//
// - GNU nm loads every plugin in bfd-plugins on each start to recognise LTO objects; where LLVM's gold
//   plugin is installed (llvm-*-linker-tools) that is libLLVM, ~0.1 s per nm. kbuild 5.19-6.4 runs nm on every
//   object (scripts/check-local-export) and per kallsyms link. Naming gcc's own LTO plugin with --plugin makes
//   nm load only that one (~0.02 s); its output is the same for objects gcc built.
// - scripts/check-local-export (nm + awk + two shells per object) fails the build when an object exports a
//   local symbol, which it sees as a __ksymtab_ symbol. Without CONFIG_MODULES, include/linux/export.h makes
//   EXPORT_SYMBOL empty, so no object has one and the check cannot fail: it is left out.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { makeArgValue, toolWords } from './build-make-args.ts';

function hasArg(makeArgs: readonly string[], name: string): boolean {
  return makeArgValue(makeArgs, name) !== undefined;
}

/**
 * `NM=nm --plugin <gcc's liblto_plugin.so>` for a gcc build with the default binutils; [] when the user picked
 * the tools (NM=, LLVM=, CROSS_COMPILE=), the compiler is not gcc, or gcc names no plugin file.
 */
export async function nmPluginArgs(makeArgs: readonly string[]): Promise<string[]> {
  if (['NM', 'LLVM', 'CROSS_COMPILE'].some((name) => hasArg(makeArgs, name))) return [];
  const [cc, ...ccArgs] = toolWords(makeArgs, 'CC', 'gcc');
  if (cc === undefined || !/(^|-)gcc(-[\d.]+)?$/.test(path.basename(cc))) return [];
  const plugin = await gccLtoPlugin(cc, ccArgs);
  return plugin === undefined ? [] : [`NM=nm --plugin ${plugin}`];
}

const plugins = new Map<string, Promise<string | undefined>>();

// gcc prints the bare name back when it has no such file.
function gccLtoPlugin(cc: string, ccArgs: readonly string[]): Promise<string | undefined> {
  const key = [cc, ...ccArgs].join(' ');
  let found = plugins.get(key);
  if (found === undefined) {
    found = (async () => {
      const r = await execa(cc, [...ccArgs, '-print-file-name=liblto_plugin.so'], { reject: false });
      const file = String(r.stdout).trim();
      if (r.exitCode !== 0 || !path.isAbsolute(file) || /\s/.test(file)) return undefined;
      return (await fs.stat(file).catch(() => null))?.isFile() ? file : undefined;
    })();
    plugins.set(key, found);
  }
  return found;
}

/** `cmd_check_local_export=` when the configuration has no CONFIG_MODULES and the user did not set it. */
export function localExportCheckArgs(configText: string, makeArgs: readonly string[]): string[] {
  if (hasArg(makeArgs, 'cmd_check_local_export')) return [];
  return /^CONFIG_MODULES=y$/m.test(configText) ? [] : ['cmd_check_local_export='];
}

/** Both, for a make with this final .config. */
export async function perObjectArgs(configText: string, makeArgs: readonly string[]): Promise<string[]> {
  return [...(await nmPluginArgs(makeArgs)), ...localExportCheckArgs(configText, makeArgs)];
}
