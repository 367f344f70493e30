/**
 * The files merged runs bring along: cell folders (without disk images: large, and kept in the shard's run),
 * shared guests' folders (guests/<kernel>-<n>: the whole console and guest.json) and kept kernel build logs.
 * Every shard numbers its guests from 1, so two shards both have guests/6.1.0-56-amd64-1: a name already
 * taken in the merged run gets the next free number. References follow the rename: the summary's through
 * the returned maps, and the absolute guest directory a cell's result.json (sharedGuest.dir) and console.log
 * (the "left out" line of a shared guest's slice) carry, rewritten in the copies.
 */
import { cp, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import type { LoadedRun } from '../load-run.ts';

/** Names used in the merged run so far ('guests/x', 'cells/y', 'kernels/z'). */
export type Taken = Set<string>;

/** `wanted`, or the first free variant: @<run id> appended, or with `counted`, <prefix>-<n> with n counting up. */
export function freeName(taken: Taken, wanted: string, runId: string, counted = false): string {
  let name = wanted;
  const numbered = counted ? /^(.*-)(\d+)$/.exec(wanted) : null;
  for (let n = 1; taken.has(name); n++) name = numbered ? `${numbered[1]}${n}` : n === 1 ? `${wanted}@${runId}` : `${wanted}@${runId}-${n}`;
  taken.add(name);
  return name;
}

/** Numeric order, so guests/k-2 comes before guests/k-10 and renumbering keeps the shard's order. */
const natural = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/** Copies the run's guests/ folders; returns 'guests/<name in the shard>' -> 'guests/<name here>'. */
export async function copyGuests(run: LoadedRun, outDir: string, taken: Taken): Promise<Map<string, string>> {
  const names = (await readdir(join(run.dir, 'guests'), { withFileTypes: true }).catch(() => []))
    .filter((e) => e.isDirectory()).map((e) => e.name).sort(natural);
  const out = new Map<string, string>();
  for (const name of names) {
    const to = freeName(taken, `guests/${name}`, run.summary.runId, true);
    await cp(join(run.dir, 'guests', name), join(outDir, to), { recursive: true });
    out.set(`guests/${name}`, to);
  }
  return out;
}

/**
 * Copies one cell folder (`from` in the shard, `to` here) without disk images and rewrites its guest
 * references; returns, per execution directory (relative to the merged run), the guest it ran in, as
 * result.json says (for summaries written before cells recorded their guest).
 */
export async function copyCellFolder(run: LoadedRun, from: string, to: string, outDir: string, guests: Map<string, string>): Promise<Map<string, string>> {
  const src = join(run.dir, from);
  await cp(src, join(outDir, to), { recursive: true, filter: (p) => !p.slice(src.length).split('/').includes('disks') });
  const found = new Map<string, string>();
  for (const file of await resultFiles(join(outDir, to))) {
    const dir = dirname(file);
    const result = JSON.parse(await readFile(file, 'utf8')) as { sharedGuest?: { dir?: unknown } };
    const old = result.sharedGuest?.dir;
    if (typeof old !== 'string' || basename(dirname(old)) !== 'guests') continue;
    const mine = guests.get(`guests/${basename(old)}`);
    if (mine === undefined) continue;
    const now = join(outDir, mine);
    found.set(relative(outDir, dir), mine);
    if (now === old) continue;
    result.sharedGuest!.dir = now;
    await writeFile(file, JSON.stringify(result, null, 2) + '\n');
    const consoleLog = join(dir, 'console.log');
    const text = await readFile(consoleLog, 'utf8').catch(() => undefined);
    if (text?.includes(`${old}/`)) await writeFile(consoleLog, text.replaceAll(`${old}/`, `${now}/`));
  }
  return found;
}

async function resultFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await resultFiles(join(dir, e.name))));
    else if (e.name === 'result.json') out.push(join(dir, e.name));
  }
  return out;
}

/** Copies a kernel's kept file (kernels/<label>.build.log, .config, .patches/*); returns its path here, or undefined when the shard lost it. */
export async function copyBuildLog(run: LoadedRun, rel: string, outDir: string, taken: Taken): Promise<string | undefined> {
  const text = await readFile(join(run.dir, rel)).catch(() => undefined);
  if (text === undefined) return undefined;
  const to = freeName(taken, rel, run.summary.runId);
  await mkdir(dirname(join(outDir, to)), { recursive: true });
  await copyFile(join(run.dir, rel), join(outDir, to));
  return to;
}
