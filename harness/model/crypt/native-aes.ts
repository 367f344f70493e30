/**
 * In-place AES-ECB from native/aes-ecb.c, compiled on first use with the host's C compiler against Node's
 * own headers and OpenSSL (whose symbols Node exports), and kept under node_modules/.cache keyed by the
 * source, Node and OpenSSL versions. The gcm audit uses it for its counter blocks when it loads; otherwise
 * (no compiler, no headers, IH_NATIVE_AES=0) it stays on node:crypto, which gives the same bytes slower.
 * nativeAesStatus() says which and why, for the bench and the audit's --json.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execaSync } from 'execa';

interface Addon {
  ecb(key: Uint8Array): unknown;
  ecbInPlace(handle: unknown, view: Uint8Array): void;
}

export type NativeAesStatus = { native: true; path: string } | { native: false; reason: string };

/** AES-ECB with one key, encrypting a whole number of blocks over themselves */
export type EcbInPlace = (view: Uint8Array) => void;

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, 'native', 'aes-ecb.c');
const CACHE = join(here, '..', '..', '..', 'node_modules', '.cache', 'integrity-harness');

let loaded: { addon: Addon; status: NativeAesStatus } | { addon: undefined; status: NativeAesStatus } | undefined;

function nodeInclude(): string {
  return join(dirname(process.execPath), '..', 'include', 'node');
}

function build(): { addon: Addon; status: NativeAesStatus } {
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).update(`${process.version}\0${process.versions.openssl}\0${process.arch}`).digest('hex').slice(0, 16);
  const path = join(CACHE, `aes-ecb-${key}.node`);
  if (!existsSync(path)) {
    const include = nodeInclude();
    if (!existsSync(join(include, 'node_api.h')) || !existsSync(join(include, 'openssl', 'evp.h')))
      throw new Error(`Node's headers are not at ${include} (node_api.h, openssl/evp.h)`);
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    const cc = process.env.CC || 'cc';
    try {
      execaSync(cc, ['-O2', '-shared', '-fPIC', '-Wall', '-I', include, '-o', tmp, SOURCE], { stdin: 'ignore' });
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      const err = e as { stderr?: string; shortMessage?: string; message: string };
      const tail = (err.stderr || err.shortMessage || err.message).trim().split('\n').slice(-3).join(' | ');
      throw new Error(`${cc} could not build ${SOURCE}: ${tail}`);
    }
  }
  return { addon: createRequire(import.meta.url)(path) as Addon, status: { native: true, path } };
}

function load() {
  if (loaded) return loaded;
  if (process.env.IH_NATIVE_AES === '0') return (loaded = { addon: undefined, status: { native: false, reason: 'IH_NATIVE_AES=0' } });
  try {
    loaded = build();
  } catch (e) {
    loaded = { addon: undefined, status: { native: false, reason: (e as Error).message } };
  }
  return loaded;
}

export function nativeAesStatus(): NativeAesStatus {
  return load().status;
}

/** undefined when the native AES is not available (nativeAesStatus() says why) */
export function nativeEcb(key: Uint8Array): EcbInPlace | undefined {
  const { addon } = load();
  if (!addon) return undefined;
  const handle = addon.ecb(key);
  return (view) => addon.ecbInPlace(handle, view);
}
