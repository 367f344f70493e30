import { mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadToPart } from './download.ts';
import { NotFoundError, VerificationError, DownloadError } from './errors.ts';
import { progressTo } from './progress.ts';
import { fetchVerified, partPath, storePath } from './store.ts';
import { startMirrorServer, type MirrorServer } from './test-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'ih-fetch-'));
const www = join(dir, 'www');
const body = randomBytes(3 * 1024 * 1024 + 17);
const sha = createHash('sha256').update(body).digest('hex');
let server: MirrorServer;

beforeAll(async () => {
  mkdirSync(join(www, 'pub'), { recursive: true });
  writeFileSync(join(www, 'pub', 'linux-4.13.16.tar.xz'), body);
  server = await startMirrorServer(www);
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const url = () => `${server.url}/pub/linux-4.13.16.tar.xz`;

describe('fetchVerified', () => {
  it('downloads, checks the sha256 and renames the file into the content-addressed cache', async () => {
    const cache = join(dir, 'c1');
    const path = await fetchVerified({ url: url(), name: 'linux-4.13.16.tar.xz', sha256: sha, expectedFrom: 'test', cacheRoot: cache });
    expect(path).toBe(storePath(cache, sha, 'linux-4.13.16.tar.xz'));
    expect(readFileSync(path).equals(body)).toBe(true);
    expect(existsSync(partPath(cache, sha, 'linux-4.13.16.tar.xz'))).toBe(false);
    // present in the cache: no second request
    const before = server.requests.length;
    await fetchVerified({ url: url(), name: 'linux-4.13.16.tar.xz', sha256: sha, expectedFrom: 'test', cacheRoot: cache });
    expect(server.requests.length).toBe(before);
  });

  it('refuses a file whose sha256 differs, naming the file, the URL, the expected and the actual value, and keeps nothing trusted', async () => {
    const cache = join(dir, 'c2');
    const wrong = createHash('sha256').update('something else').digest('hex');
    const err = await fetchVerified({ url: url(), name: 'linux-4.13.16.tar.xz', sha256: wrong, expectedFrom: 'sha256sums.asc', cacheRoot: cache }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    const msg = (err as Error).message;
    expect(msg).toContain('linux-4.13.16.tar.xz');
    expect(msg).toContain(url());
    expect(msg).toContain(`expected ${wrong}`);
    expect(msg).toContain(`got ${sha}`);
    expect(existsSync(storePath(cache, wrong, 'linux-4.13.16.tar.xz'))).toBe(false);
    expect(existsSync(join(cache, 'downloads', 'sha256'))).toBe(false);
    expect(readdirSync(join(cache, 'downloads', 'rejected'))).toEqual([`linux-4.13.16.tar.xz.sha256-${sha}`]);
  });

  it('resumes with a Range request after the server drops the connection mid-body', async () => {
    const cache = join(dir, 'c3');
    server.dropOnce.set('/pub/linux-4.13.16.tar.xz', 1024 * 1024);
    server.requests.length = 0;
    const lines: string[] = [];
    const path = await fetchVerified({
      url: url(), name: 'linux-4.13.16.tar.xz', sha256: sha, expectedFrom: 'test', cacheRoot: cache,
      progress: progressTo({ isTTY: false, write: (s: string) => lines.push(s) }),
    });
    expect(readFileSync(path).equals(body)).toBe(true);
    // The second request asks for the rest: from what had arrived when the connection broke (the server wrote 1 MiB).
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]!.range).toBeUndefined();
    const from = Number(/^bytes=(\d+)-$/.exec(server.requests[1]!.range ?? '')?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(1024 * 1024);
    // not a terminal: exactly one line for the file
    expect(lines).toEqual([`downloaded linux-4.13.16.tar.xz (3.0 MiB from ${url()}, resumed at ${(from / 1024 / 1024).toFixed(1)} MiB)\n`]);
  });

  it('continues a .part left by an earlier run', async () => {
    const cache = join(dir, 'c4');
    const part = partPath(cache, sha, 'linux-4.13.16.tar.xz');
    mkdirSync(join(part, '..'), { recursive: true });
    writeFileSync(part, body.subarray(0, 5000));
    server.requests.length = 0;
    await fetchVerified({ url: url(), name: 'linux-4.13.16.tar.xz', sha256: sha, expectedFrom: 'test', cacheRoot: cache });
    expect(server.requests.map((r) => r.range)).toEqual(['bytes=5000-']);
  });

  it('refuses a download that stays short, saying how much arrived and that the next attempt resumes', async () => {
    const part = join(dir, 'c5', 'x.part');
    // every attempt is cut off after 1000 bytes
    server.dropAlways.set('/pub/linux-4.13.16.tar.xz', 1000);
    const err = await downloadToPart(url(), part, { attempts: 3 }).catch((e: unknown) => e).finally(() => server.dropAlways.clear());
    expect(err).toBeInstanceOf(DownloadError);
    const m = /download failed after 3 attempts, (\d+) bytes kept in .*x\.part for the next attempt to resume/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    const kept = readFileSync(part);
    expect(kept.length).toBe(Number(m![1]));
    expect(kept.length).toBeLessThan(body.length);
    expect(kept.equals(body.subarray(0, kept.length))).toBe(true);
  });

  it('reports a missing file as NotFoundError', async () => {
    const err = await downloadToPart(`${server.url}/pub/nope.tar.xz`, join(dir, 'c6', 'n.part')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('/pub/nope.tar.xz: HTTP 404');
  });
});
