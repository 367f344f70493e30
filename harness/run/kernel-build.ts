import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KernelBuildError, KernelPatchError } from '../../vm/kernel/build-errors.ts';

/** Lines of the build log a skipped cell quotes: enough for a compiler error, short enough to read. */
export const CELL_LOG_TAIL = 12;

/**
 * Copies a kernel's build log into the run (the cache copy is overwritten by the next build of the same
 * inputs); returns its path relative to the run directory, or undefined when there is none.
 */
export async function keepBuildLog(runDir: string, name: string, logFile: string | undefined): Promise<string | undefined> {
  if (logFile === undefined) return undefined;
  const rel = join('kernels', `${name.replace(/[^A-Za-z0-9._+-]+/g, '_')}.build.log`);
  await mkdir(join(runDir, 'kernels'), { recursive: true });
  try {
    await copyFile(logFile, join(runDir, rel));
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
