import { copyFile, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { KernelBuildError, KernelPatchError } from '../../vm/kernel/build-errors.ts';

/** Lines of the build log a skipped cell quotes: enough for a compiler error, short enough to read. */
export const CELL_LOG_TAIL = 12;

/**
 * Copies a kernel's build log into the run (the cache copy is overwritten by the next build of the same
 * inputs); returns its path relative to the run directory, or undefined when there is none.
 */
export async function keepBuildLog(runDir: string, name: string, logFile: string | undefined): Promise<string | undefined> {
  return keepKernelFile(runDir, `${safeName(name)}.build.log`, logFile);
}

/**
 * Copies a kernel's .config into the run, so a report (KCIDB's config_url, the mail) can point at the
 * configuration that was tested after the cache has moved on.
 */
export async function keepConfig(runDir: string, name: string, configFile: string | undefined): Promise<string | undefined> {
  return keepKernelFile(runDir, `${safeName(name)}.config`, configFile);
}

/**
 * Copies the --patch files into the run in the order applied (kernels/<name>.patches/<n>-<file>): the user's
 * paths may be relative or gone by the time someone reads the report. Returns the relative paths; a patch
 * that cannot be read is left out (the build named it already).
 */
export async function keepPatches(runDir: string, name: string, patches: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, p] of patches.entries()) {
    const rel = await keepKernelFile(runDir, join(`${safeName(name)}.patches`, `${String(i + 1).padStart(4, '0')}-${basename(p)}`), p);
    if (rel !== undefined) out.push(rel);
  }
  return out;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._+-]+/g, '_');
}

async function keepKernelFile(runDir: string, relInKernels: string, file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const rel = join('kernels', relInKernels);
  try {
    await mkdir(join(runDir, rel, '..'), { recursive: true });
    await copyFile(file, join(runDir, rel));
    return rel;
  } catch {
    return undefined;
  }
}

/** Why a kernel that did not build has its cells skipped: the failing step, where the log is, its last lines. */
export function buildFailureReason(e: KernelBuildError, keptLog: string | undefined): string {
  if (e instanceof KernelPatchError) return e.message;
  const first = e.message.split('\n')[0]!.replace(/; log: .*$/, '');
  const where = keptLog !== undefined ? ` (build log: ${keptLog} in the run directory)` : e.logFile !== undefined ? ` (build log: ${e.logFile})` : '';
  const hint = e.message.split('\n').find((l) => l.startsWith('This looks like a compiler'));
  const tail = e.logTail.slice(-CELL_LOG_TAIL);
  return [`${first}${where}`, ...(tail.length > 0 ? ['last lines of the build log:', ...tail.map((l) => `  ${l}`)] : []), ...(hint !== undefined ? [hint] : [])].join('\n');
}
