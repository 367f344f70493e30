/**
 * Builds the guest tools (ih-agent, ih-io) with the host's gcc as static binaries, so the initramfs needs
 * no libc of its own for them. Cached by a hash of the sources, the flags and the compiler's version: a
 * second call returns the cached paths without running gcc.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, tail } from '../../harness/errors.ts';

export interface GuestToolPaths {
  agent: string;
  io: string;
}

/** Each binary's C files, compiled together (ih-io's race subcommand lives in a file of its own). */
const SOURCES = { agent: ['agent.c'], io: ['io.c', 'io-race.c'] } as const;
const CFLAGS = ['-static', '-O2', '-Wall', '-Wextra', '-std=gnu11'];
const LIBS: Record<keyof typeof SOURCES, string[]> = { agent: [], io: ['-pthread'] };
const BINARY_NAMES: Record<keyof typeof SOURCES, string> = { agent: 'ih-agent', io: 'ih-io' };
const HINT = 'install a C compiler and the static C library: apt-get install gcc libc6-dev';

function sourcePath(name: string): string {
  return new URL(`./${name}`, import.meta.url).pathname;
}

async function compilerVersion(cc: string): Promise<string> {
  try {
    const { stdout } = await execa(cc, ['--version']);
    return stdout.split('\n')[0] ?? stdout;
  } catch (err) {
    throw new InfraError(`cannot run the C compiler '${cc} --version' to build the guest agent: ${HINT}`, {
      cause: err,
    });
  }
}

async function toolsHash(cc: string): Promise<string> {
  const h = createHash('sha256');
  h.update(`cc ${cc}\n${await compilerVersion(cc)}\nflags ${CFLAGS.join(' ')}\n`);
  for (const key of Object.keys(SOURCES) as (keyof typeof SOURCES)[]) {
    h.update(`source ${SOURCES[key].join(' ')} ${LIBS[key].join(' ')}\n`);
    for (const f of SOURCES[key]) h.update(await readFile(sourcePath(f)));
  }
  return h.digest('hex').slice(0, 16);
}

async function compile(cc: string, sources: readonly string[], output: string, libs: string[]): Promise<void> {
  const args = [...CFLAGS, '-o', output, ...sources, ...libs];
  const result = await execa(cc, args, { reject: false, all: true });
  if (result.exitCode === 0 && !result.failed) return;
  const staticLibcMissing = /cannot find -lc\b|cannot find -lpthread/.test(result.all ?? '');
  throw new InfraError(
    `building the guest tools failed: ${[cc, ...args].join(' ')}\n${tail(result.all)}\n` +
      (result.exitCode === undefined || staticLibcMissing ? HINT : 'fix the C source above'),
    { cause: result },
  );
}

/**
 * Compile ih-agent and ih-io into `cacheDir/guest-tools/<hash>/` (unless already there) and return their
 * paths. Set $CC to use another compiler. Safe to call concurrently: each caller builds into its own
 * temporary directory and the first rename wins.
 */
export async function buildGuestTools(cacheDir: string): Promise<GuestToolPaths> {
  const cc = process.env.CC ?? 'gcc';
  const dir = join(cacheDir, 'guest-tools', await toolsHash(cc));
  const paths = { agent: join(dir, BINARY_NAMES.agent), io: join(dir, BINARY_NAMES.io) };
  if (existsSync(paths.agent) && existsSync(paths.io)) return paths;

  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const key of Object.keys(SOURCES) as (keyof typeof SOURCES)[]) {
      const out = join(tmp, BINARY_NAMES[key]);
      await compile(cc, SOURCES[key].map(sourcePath), out, LIBS[key]);
      await chmod(out, 0o755);
    }
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another caller finished first (ENOTEMPTY/EEXIST): its binaries come from the same hash.
      if (!existsSync(paths.agent)) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return paths;
}
