/** A scenario's one-sentence description, read from its file (scenarios/<id>.yaml, compat/* from harness/gate/). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../../vm/cache.ts';

export async function scenarioDescription(id: string, root = repoRoot()): Promise<string | undefined> {
  const file = id.startsWith('compat/') ? join(root, 'harness', 'gate', `${id}.yaml`) : join(root, 'scenarios', `${id}.yaml`);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const d = (parse(text) as { description?: unknown } | null)?.description;
    return typeof d === 'string' ? d.trim() : undefined;
  } catch {
    return undefined;
  }
}
