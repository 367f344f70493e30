// Cache keys and cache-directory bookkeeping for kernel builds. Keys are content hashes: a key names
// exactly the inputs that went in, so a directory with a given key never needs invalidating.
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export function hashParts(parts: ReadonlyArray<string | Buffer>): string {
  const h = createHash('sha256');
  for (const part of parts) {
    const buf = typeof part === 'string' ? Buffer.from(part) : part;
    // Length-prefix each part so ['ab','c'] and ['a','bc'] hash differently.
    h.update(`${buf.length}:`);
    h.update(buf);
  }
  return h.digest('hex').slice(0, 16);
}

export interface ConfigKeyInputs {
  fragments: ReadonlyArray<{ name: string; text: string }>;
  makeArgs: readonly string[];
  /** The toolchain container's image id (--toolchain-image); absent for the host's toolchain. */
  toolchain?: string;
}

// Names the configuration + toolchain of a build, independent of the source it is applied to.
export function configKey(inputs: ConfigKeyInputs): string {
  return hashParts([
    'config-v1',
    ...inputs.fragments.flatMap((f) => [f.text]),
    '--make-args--',
    ...inputs.makeArgs,
    // absent from the parts for the host's toolchain, so host builds keep their keys
    ...(inputs.toolchain !== undefined ? ['--toolchain--', inputs.toolchain] : []),
  ]);
}

// Names a source tree with patches applied, in order.
export function patchedSourceKey(baseKey: string, patchTexts: readonly string[]): string {
  return hashParts(['patched-v1', baseKey, ...patchTexts]);
}

// Names one finished kernel: source (+patches) and configuration. v2: the published image is vmlinux when
// the configuration has CONFIG_PVH=y (build-target.ts); a v1 entry of the same inputs holds a bzImage.
export function buildCacheKey(sourceKey: string, cfgKey: string): string {
  return hashParts(['kernel-v2', sourceKey, cfgKey]);
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

export async function readStamp(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function writeStamp(file: string, value: string): Promise<void> {
  await fs.writeFile(file, `${value}\n`);
}

export function tempSibling(finalPath: string): string {
  return path.join(path.dirname(finalPath), `.tmp-${path.basename(finalPath)}-${randomBytes(4).toString('hex')}`);
}

// Creates `finalPath` by filling a temporary sibling and renaming it into place, so a crash or a
// concurrent builder never leaves a half-made directory under the final name.
export async function createDirAtomically(finalPath: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  if (await pathExists(finalPath)) return;
  await fs.mkdir(path.dirname(finalPath), { recursive: true });
  const tmp = tempSibling(finalPath);
  try {
    await fill(tmp);
    await fs.rename(tmp, finalPath);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    // Another builder won the race: its result is as good as ours.
    if (isErrno(err, 'ENOTEMPTY') || isErrno(err, 'EEXIST')) return;
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Whether a lock holder's process still runs (EPERM: it runs under another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, 'EPERM');
  }
}

/**
 * Takes a pid lock file: undefined once it is ours, else the pid of the live process holding it. A lock
 * whose holder is gone (a killed run) is removed and taken.
 */
export async function tryLock(lockFile: string): Promise<number | undefined> {
  for (;;) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return undefined;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      const holder = Number.parseInt((await readStamp(lockFile)) ?? '', 10);
      if (Number.isFinite(holder) && pidAlive(holder)) return holder;
      await fs.rm(lockFile, { force: true });
    }
  }
}

// One builder per build directory at a time (make in the same O= dir twice corrupts it).
export async function withLock<T>(lockFile: string, fn: () => Promise<T>, opts: { pollMs?: number } = {}): Promise<T> {
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  while ((await tryLock(lockFile)) !== undefined) await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
  try {
    return await fn();
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}
