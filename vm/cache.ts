import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The harness's cache: downloaded kernels, unpacked packages, built images. Override with IH_CACHE_DIR. */
export function cacheDir(...parts: string[]): string {
  const base = process.env.IH_CACHE_DIR ?? join(REPO_ROOT, '.cache');
  return join(base, ...parts);
}

export function repoRoot(): string {
  return REPO_ROOT;
}

/**
 * Fill `dir` atomically: `fill` writes into a temporary sibling which is renamed into place, so an
 * interrupted run never leaves a half-filled cache entry that a later run would trust.
 */
export async function fillCacheDir(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(dirname(dir), { recursive: true });
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Writes a cache file through a temporary sibling and a rename, so a reader never sees half of it. */
export async function writeCacheFile(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
