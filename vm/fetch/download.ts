// HTTP(S) GET into a `.part` file that survives interruptions: a later attempt (in this run or the next)
// asks for the rest with a Range request and appends. The caller verifies the file and renames it.
import { createWriteStream, promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DownloadError, NotFoundError } from './errors.ts';
import { silentProgress, type ProgressFactory } from './progress.ts';

export interface DownloadOptions {
  /** Connection attempts in all, each resuming where the previous one stopped. */
  attempts?: number;
  progress?: ProgressFactory;
  /** The file name progress lines show. */
  name?: string;
}

async function sizeOf(file: string): Promise<number> {
  return fs.stat(file).then((s) => s.size, () => 0);
}

/** Total length of the resource from a 200's Content-Length or a 206's Content-Range ("bytes 10-99/100"). */
function totalOf(res: Response, offset: number): number | undefined {
  if (res.status === 206) {
    const m = /\/(\d+)\s*$/.exec(res.headers.get('content-range') ?? '');
    return m !== null ? Number(m[1]) : undefined;
  }
  const len = res.headers.get('content-length');
  return len !== null ? offset + Number(len) : undefined;
}

/**
 * Downloads `url` into `part`, resuming from what `part` already holds. Returns the byte count; throws
 * NotFoundError for 404/410 and DownloadError when the server fails or the body stays short after every attempt.
 */
export async function downloadToPart(url: string, part: string, opts: DownloadOptions = {}): Promise<number> {
  const attempts = opts.attempts ?? 5;
  const progress = (opts.progress ?? silentProgress)(opts.name ?? url.split('/').at(-1)!, url);
  await fs.mkdir(dirname(part), { recursive: true });
  // Where the first Range request continued (a .part from an earlier run, or a dropped connection in this one).
  let resumedFrom = 0;
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const have = await sizeOf(part);
    let res: Response;
    try {
      res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow' });
    } catch (e) {
      lastError = e;
      continue;
    }
    if (res.status === 404 || res.status === 410) throw new NotFoundError(url, `${url}: HTTP ${res.status} (the archive has no such file)`);
    // The part already holds the whole resource.
    if (res.status === 416 && have > 0) {
      progress.done(have, have);
      return have;
    }
    if (res.status !== 200 && res.status !== 206) {
      lastError = new DownloadError(url, `${url}: HTTP ${res.status} ${res.statusText}`);
      await res.body?.cancel();
      if (res.status < 500) break;
      continue;
    }
    // A server that ignores Range sends the whole file again (200): start over rather than append.
    const offset = res.status === 206 ? have : 0;
    if (offset > 0 && resumedFrom === 0) resumedFrom = offset;
    const total = totalOf(res, offset);
    let bytes = offset;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        progress.update(bytes, total);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body! as import('node:stream/web').ReadableStream), count, createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }));
    } catch (e) {
      lastError = e;
      continue;
    }
    if (total !== undefined && bytes < total) {
      lastError = new Error(`connection closed at byte ${bytes} of ${total}`);
      continue;
    }
    progress.done(bytes, resumedFrom);
    return bytes;
  }
  const got = await sizeOf(part);
  const why = lastError instanceof Error ? lastError.message + (lastError.cause instanceof Error ? ` (${lastError.cause.message})` : '') : String(lastError);
  throw new DownloadError(url, `${url}: download failed after ${attempts} attempts, ${got} bytes kept in ${part} for the next attempt to resume: ${why}`, { cause: lastError });
}

/** A small file (an index, a checksum list, a signature) fetched whole into memory. */
export async function fetchBytes(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = e instanceof Error && e.cause instanceof Error ? ` (${e.cause.message})` : '';
    throw new DownloadError(url, `${url}: ${(e as Error).message}${cause}`, { cause: e });
  }
  if (res.status === 404 || res.status === 410) throw new NotFoundError(url, `${url}: HTTP ${res.status} (the archive has no such file)`);
  if (!res.ok) throw new DownloadError(url, `${url}: HTTP ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}
