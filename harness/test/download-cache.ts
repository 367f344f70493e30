import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A cache of its own for what a download test fetches (a repacked "4.13" must never reach the shared cache),
 * sharing the rest of the shared one (built images, packages, guest tools) through symlinks.
 */
export function downloadTestCache(shared: string, cache: string): void {
  mkdirSync(join(cache, 'kernels'), { recursive: true });
  for (const entry of readdirSync(shared)) {
    if (!['kernels', 'downloads', 'keyrings', 'tarballs'].includes(entry)) symlinkSync(join(shared, entry), join(cache, entry));
  }
}
