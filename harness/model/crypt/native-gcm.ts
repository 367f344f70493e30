/**
 * The gcm audit's run check in C (native/gcm-run.c: AES-NI keystream, PCLMULQDQ GHASH and the plaintext in
 * one pass), compiled on first use with the host's C compiler against Node's N-API header and kept under
 * node_modules/.cache keyed by the source and the Node version. gcm-run.ts uses
 * it when it loads; otherwise (no compiler, no headers, not x86-64, IH_NATIVE_GCM=0) the WebAssembly path
 * there runs, which gives the same answers slower. nativeGcmStatus() says which and why.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { threadId } from 'node:worker_threads';
import { execaSync } from 'execa';

interface Addon {
  gcm(key: Uint8Array): unknown;
  isa(): string;
  gcmRun(handle: unknown, data: Uint8Array, tags: Uint8Array, out: Uint8Array, n: number, sectorSize: number, tupleSize: number, s0: number, step: number): boolean;
}

/** isa: "VAES" (two blocks per instruction) or "AES-NI" */
export type NativeGcmStatus = { native: true; path: string; isa: string } | { native: false; reason: string };

/**
 * Whether all n sectors of the run authenticate (tuples [auth tag 16 | IV 12 | padding] of tupleSize bytes;
 * the i-th sector's AAD sector is s0 + i * step); when they do, out holds their plaintext.
 */
export type NativeGcmRun = (data: Uint8Array, tags: Uint8Array, out: Uint8Array, n: number, sectorSize: number, tupleSize: number, s0: number, step: number) => boolean;

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'native', 'gcm-run.c');
const CACHE = join(here, '..', '..', '..', 'node_modules', '.cache', 'integrity-harness');

let loaded: { addon: Addon | undefined; status: NativeGcmStatus } | undefined;

function build(): { addon: Addon; path: string } {
  if (process.arch !== 'x64') throw new Error(`native/gcm-run.c is x86-64 code (PCLMULQDQ); this is ${process.arch}`);
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).update(`${process.version}\0${process.arch}`).digest('hex').slice(0, 16);
  const path = join(CACHE, `gcm-run-${key}.node`);
  if (!existsSync(path)) {
    const include = join(dirname(process.execPath), '..', 'include', 'node');
    if (!existsSync(join(include, 'node_api.h'))) throw new Error(`Node's headers are not at ${include} (node_api.h)`);
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${path}.${process.pid}-${threadId}.tmp`; // two builders never share a temporary file
    const cc = process.env.CC || 'cc';
    try {
      execaSync(cc, ['-O3', '-shared', '-fPIC', '-Wall', '-I', include, '-o', tmp, SOURCE], { stdin: 'ignore' });
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      const err = e as { stderr?: string; shortMessage?: string; message: string };
      const tail = (err.stderr || err.shortMessage || err.message).trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${cc} could not build ${SOURCE}: ${tail}`);
    }
  }
  const addon = createRequire(import.meta.url)(path) as Partial<Addon>;
  if (!addon.gcm || !addon.gcmRun || !addon.isa) throw new Error(`${path} has no gcm/gcmRun/isa`);
  addon.gcm(Buffer.alloc(16)); // throws on a CPU without AES-NI or PCLMULQDQ
  return { addon: addon as Addon, path };
}

function load() {
  if (loaded) return loaded;
  if (process.env.IH_NATIVE_GCM === '0') return (loaded = { addon: undefined, status: { native: false, reason: 'IH_NATIVE_GCM=0' } });
  try {
    const { addon, path } = build();
    loaded = { addon, status: { native: true, path, isa: addon.isa() } };
  } catch (e) {
    loaded = { addon: undefined, status: { native: false, reason: (e as Error).message } };
  }
  return loaded;
}

export function nativeGcmStatus(): NativeGcmStatus {
  return load().status;
}

/** undefined when the native run check is not available (nativeGcmStatus() says why) */
export function nativeGcm(key: Uint8Array): NativeGcmRun | undefined {
  const { addon } = load();
  if (!addon) return undefined;
  const handle = addon.gcm(key);
  return (data, tags, out, n, bs, ts, s0, step) => addon.gcmRun(handle, data, tags, out, n, bs, ts, s0, step);
}
