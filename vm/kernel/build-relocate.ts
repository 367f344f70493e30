// A build dir copied to another place keeps kbuild's objects valid (they name sources relative to srctree=..),
// but tools/objtool records absolute paths in its command files: once they differ, objtool is rebuilt, and
// every object depends on the objtool binary, so the whole kernel would be recompiled. Rewriting those paths
// keeps a one-file patch a one-file rebuild.
import { promises as fs } from 'node:fs';
import path from 'node:path';

// Kbuild's and tools/build's saved command lines and dependency lists: `.foo.o.cmd`, `.foo.o.d`.
const COMMAND_FILE_RE = /^\..*\.(cmd|d)$/;

async function* commandFiles(dir: string): AsyncGenerator<string> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* commandFiles(full);
    else if (entry.isFile() && COMMAND_FILE_RE.test(entry.name)) yield full;
  }
}

/**
 * Replaces `from` with `to` in the command files under `buildDir/tools`, keeping each file's mtime (make
 * compares times, and a command file newer than before must not look like a change). Returns how many
 * files were rewritten.
 */
export async function relocateToolCommands(buildDir: string, from: string, to: string): Promise<number> {
  const tools = path.join(buildDir, 'tools');
  const st = await fs.stat(tools).catch(() => null);
  if (!st?.isDirectory() || from === to) return 0;
  let rewritten = 0;
  for await (const file of commandFiles(tools)) {
    const text = await fs.readFile(file, 'utf8');
    if (!text.includes(from)) continue;
    const { atime, mtime } = await fs.stat(file);
    await fs.writeFile(file, text.split(from).join(to));
    await fs.utimes(file, atime, mtime);
    rewritten += 1;
  }
  return rewritten;
}
