// The download cache, addressed by content: <cache>/downloads/sha256/<hex>/<name> exists only for a file whose
// sha256 was checked, so a present entry is trusted without hashing again. Partial downloads live under
// partial/ (named by the sha256 they must reach, so a resume continues the same file); a file that fails its
// check goes to rejected/, which nothing reads.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { downloadToPart } from './download.ts';
import { VerificationError } from './errors.ts';
import type { ProgressFactory } from './progress.ts';

export interface VerifiedFetch {
  url: string;
  /** File name in the cache (the archive's own name). */
  name: string;
  /** The sha256 the file must have, from a verified index or the catalog. */
  sha256: string;
  /** Where the sha256 came from, for the error message ("CHECKSUMS at <url>"). */
  expectedFrom: string;
  cacheRoot: string;
  progress?: ProgressFactory;
}

const SHA256 = /^[0-9a-f]{64}$/;

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function storePath(cacheRoot: string, sha256: string, name: string): string {
  return join(cacheRoot, 'downloads', 'sha256', sha256, name);
}

export function partPath(cacheRoot: string, sha256: string, name: string): string {
  return join(cacheRoot, 'downloads', 'partial', `${sha256.slice(0, 16)}-${name}.part`);
}

/** Downloads (or finds in the cache) a file that must have a known sha256; returns its path in the cache. */
export async function fetchVerified(f: VerifiedFetch): Promise<string> {
  if (!SHA256.test(f.sha256)) throw new VerificationError(`${f.name}: '${f.sha256}' from ${f.expectedFrom} is not a sha256`, 'other');
  if (f.name.includes('/') || f.name.startsWith('.')) throw new VerificationError(`${f.url}: '${f.name}' is not a plain file name`);
  const dest = storePath(f.cacheRoot, f.sha256, f.name);
  if (await fs.access(dest).then(() => true, () => false)) return dest;
  const part = partPath(f.cacheRoot, f.sha256, f.name);
  await downloadToPart(f.url, part, { name: f.name, ...(f.progress !== undefined ? { progress: f.progress } : {}) });
  const actual = await sha256File(part);
  if (actual !== f.sha256) {
    const rejected = join(f.cacheRoot, 'downloads', 'rejected', `${f.name}.sha256-${actual}`);
    await fs.mkdir(join(f.cacheRoot, 'downloads', 'rejected'), { recursive: true });
    await fs.rename(part, rejected);
    throw new VerificationError(
      `${f.name}: sha256 mismatch for ${f.url}: expected ${f.sha256} (${f.expectedFrom}), got ${actual}; ` +
        `the file is not used (kept for inspection as ${rejected})`,
      'checksum',
    );
  }
  await fs.mkdir(join(dest, '..'), { recursive: true });
  await fs.rename(part, dest);
  return dest;
}
