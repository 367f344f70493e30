// A --coverage kernel's gcov counters, read from the guest per scenario: reset before the scenario (so the
// boot and earlier scenarios of a shared guest count for nobody), copied to the cell's directory after it.
// The kernel serves them in debugfs (kernel/gcov/fs.c) under the build dir's absolute path; debugfs is
// mounted for the read and unmounted again, so the guest's mounts stay as the state check expects.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { ExecResult } from '../../vm/agent/client.ts';
import type { ResolvedKernel } from '../../vm/kernel/types.ts';

/** Where a cell keeps its scenario's counters: <cell>/coverage/gcda/<path relative to the build dir>.gcda. */
export const CELL_COVERAGE_DIR = 'coverage';
export const CELL_GCDA_DIR = join(CELL_COVERAGE_DIR, 'gcda');

const TIMEOUT_MS = 60_000;

// One constant script per action (no input in it): debugfs mounted around the action when it was not.
// `debugfs` is where it is mounted; tests point it at a directory of their own.
function script(action: string, debugfs: string): string[] {
  return ['sh', '-c', [
    `set -e; d=${debugfs}; m=`,
    '[ -e $d/gcov ] || { mount -t debugfs debugfs $d; m=1; }',
    action,
    '[ -z "$m" ] || umount $d',
  ].join('\n')];
}

const DEBUGFS = '/sys/kernel/debug';

// Each file as a header line "F <size> <path under gcov/>" and its bytes: debugfs reports a size of 0 for
// gcov files, so the bytes are counted from a copy (which nothing changes between the copy and the read).
export function collectArgv(debugfs = DEBUGFS): string[] {
  return script([
    'find $d/gcov -name "*.gcda" | while read -r f; do',
    '  cat "$f" > /tmp/ih-gcda; echo "F $(wc -c < /tmp/ih-gcda) ${f#$d/gcov}"; cat /tmp/ih-gcda',
    'done; rm -f /tmp/ih-gcda',
  ].join('\n'), debugfs);
}

export function resetArgv(debugfs = DEBUGFS): string[] {
  return script('echo 1 > $d/gcov/reset', debugfs);
}

type Exec = (argv: string[], opts: { timeoutMs: number }) => Promise<ExecResult>;

/** Zeroes every counter of the guest's kernel. */
export async function resetCounters(exec: Exec): Promise<void> {
  const r = await exec(resetArgv(), { timeoutMs: TIMEOUT_MS });
  if (r.exitCode !== 0) throw new Error(`resetting the gcov counters failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`);
}

/** The guest's .gcda files: path under debugfs' gcov/ (the build dir's absolute path, then the object's) -> bytes. */
export async function readCounters(exec: Exec): Promise<Map<string, Buffer>> {
  const r = await exec(collectArgv(), { timeoutMs: TIMEOUT_MS });
  if (r.exitCode !== 0) throw new Error(`reading the gcov counters failed (exit ${r.exitCode}): ${r.stderr.toString().trim()}`);
  return parseCounterStream(r.stdout);
}

export function parseCounterStream(out: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    const header = /^F (\d+) (\/.+)$/.exec(out.subarray(at, nl < 0 ? out.length : nl).toString());
    if (nl < 0 || header === null) throw new Error(`gcov counter stream: bad header at byte ${at}`);
    const size = Number(header[1]);
    if (nl + 1 + size > out.length) throw new Error(`gcov counter stream: ${header[2]} is cut short`);
    files.set(header[2]!, out.subarray(nl + 1, nl + 1 + size));
    at = nl + 1 + size;
  }
  return files;
}

/**
 * Writes the counters of the kernel's build dir under `into`, each at its path relative to the build dir.
 * Counters of another tree (none expected) are left out; a path that leaves the build dir is refused.
 */
export async function writeCounters(files: Map<string, Buffer>, buildDir: string, into: string): Promise<number> {
  const prefix = `${normalize(buildDir)}/`;
  let written = 0;
  for (const [path, bytes] of files) {
    const p = normalize(path);
    if (!p.startsWith(prefix) || p.includes('/../')) continue;
    const to = join(into, p.slice(prefix.length));
    await mkdir(dirname(to), { recursive: true });
    await writeFile(to, bytes);
    written += 1;
  }
  return written;
}

/**
 * The two hooks a cell runner calls: `before` the scenario's first step, `after` its last (guest still up).
 * Neither throws: coverage that could not be read is noted in <cell>/coverage/error.txt, the verdict stays.
 */
export function coverageHooks(kernel: Pick<ResolvedKernel, 'coverage'>, cellDir: string) {
  const cov = kernel.coverage;
  const note = (e: unknown) =>
    mkdir(join(cellDir, CELL_COVERAGE_DIR), { recursive: true })
      .then(() => writeFile(join(cellDir, CELL_COVERAGE_DIR, 'error.txt'), `${(e as Error).message}\n`))
      .catch(() => undefined);
  return {
    async before(exec: Exec): Promise<void> {
      if (cov !== undefined) await resetCounters(exec).catch(note);
    },
    async after(exec: Exec): Promise<void> {
      if (cov === undefined) return;
      try {
        const n = await writeCounters(await readCounters(exec), cov.buildDir, join(cellDir, CELL_GCDA_DIR));
        if (n === 0) throw new Error(`the guest's debugfs gcov/ holds no counters under ${cov.buildDir}`);
      } catch (e) {
        await note(e);
      }
    },
  };
}
