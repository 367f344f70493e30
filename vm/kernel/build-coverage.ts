// --coverage: a kernel with gcov counters for chosen objects only. kbuild profiles an object when
// GCOV_PROFILE_<basename>.o is y (scripts/Makefile.lib); set on make's command line it overrides the tree's
// Makefiles and reaches every sub-make, so the user's tree is never edited. The variable is matched by base
// name in every directory: an object named like one elsewhere (core.o) is profiled there too.
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KernelSpecError } from './build-errors.ts';

export const GCOV_FRAGMENT = fileURLToPath(new URL('../kconfig/gcov.config', import.meta.url));

/** The integrity path: what `--coverage` profiles unless `--coverage-file` adds more. */
export const DEFAULT_COVERAGE_OBJECTS: readonly string[] = [
  'drivers/md/dm-integrity.o',
  'drivers/md/dm-crypt.o',
  'drivers/md/dm-log-writes.o',
  'drivers/md/dm-table.o',
  'block/bio-integrity.o',
  'block/blk-integrity.o',
];

const OBJECT_RE = /^(?:[A-Za-z0-9_+-]+\/)*[A-Za-z0-9_+-]+\.o$/;

/** Checks object paths (relative to the tree, ending in .o); `where` names the option or file they came from. */
export function checkCoverageObjects(objects: readonly string[], where: string): string[] {
  for (const o of objects) {
    if (!OBJECT_RE.test(o)) {
      throw new KernelSpecError(`${where}: '${o}' is not an object path relative to the tree (e.g. drivers/md/dm-bufio.o)`);
    }
  }
  return [...new Set(objects)];
}

/** Reads a --coverage-file: one object path a line, `#` comments and blank lines ignored. */
export function readCoverageFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KernelSpecError(`--coverage-file ${file} cannot be read`, { cause: err });
  }
  const objects = text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => l !== '');
  return checkCoverageObjects(objects, `--coverage-file ${file}`);
}

/** make arguments that profile these objects. */
export function coverageMakeArgs(objects: readonly string[]): string[] {
  return [...new Set(objects.map((o) => `GCOV_PROFILE_${path.basename(o)}=y`))].sort();
}

/** Where a profiled object's notes file (.gcno) lies, relative to the build dir. */
export function gcnoOf(object: string): string {
  return object.replace(/\.o$/, '.gcno');
}

/**
 * Copies the notes files of the profiled objects out of the build dir next to the published kernel: the
 * counters a guest writes only read back against the notes of the very compile that made them, and a tree's
 * build dir is reused by its next revision. An object the configuration does not build has none: left out.
 */
export async function publishNotes(outDir: string, gcovDir: string, objects: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const object of objects) {
    const from = path.join(outDir, gcnoOf(object));
    if (!(await fs.stat(from).catch(() => null))?.isFile()) continue;
    await fs.mkdir(path.dirname(path.join(gcovDir, gcnoOf(object))), { recursive: true });
    await fs.copyFile(from, path.join(gcovDir, gcnoOf(object)));
    found.push(object);
  }
  return found;
}
