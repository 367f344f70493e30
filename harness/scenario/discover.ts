import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ScenarioError, loadScenario, type Scenario } from './load.ts';

/**
 * "integrity/*" -> regex over scenario ids, as a shell globs file names: `*` and `?` stay within a path
 * segment, `**` crosses them, `[1-4]` / `[!x]` are character classes ('[' without its ']' is itself).
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') { re += '.*'; i++; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[' && glob.indexOf(']', i + 2) !== -1) {
      const end = glob.indexOf(']', i + 2);
      const body = glob.slice(i + 1, end);
      const negate = body[0] === '!' || body[0] === '^';
      re += `[${negate ? '^/' : ''}${(negate ? body.slice(1) : body).replace(/[\\\]^[]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Loads every scenario under `dir` (validating all before any guest boots), filtered by id globs. */
export async function discoverScenarios(dir: string, globs: string[] = []): Promise<Scenario[]> {
  const files = (await readdir(dir, { recursive: true }))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
  const problems: string[] = [];
  const scenarios: Scenario[] = [];
  for (const f of files) {
    try {
      scenarios.push(await loadScenario(f, dir));
    } catch (e) {
      if (e instanceof ScenarioError) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length > 0) throw new ScenarioError(problems.join('\n'));
  const res = globs.map(globToRegExp);
  const picked = res.length === 0 ? scenarios : scenarios.filter((s) => res.some((r) => r.test(s.id)));
  if (picked.length === 0) {
    throw new ScenarioError(globs.length > 0 ? `--scenario ${globs.join(' ')}: matches none of ${scenarios.map((s) => s.id).join(', ')}` : `no scenario files under ${dir}`);
  }
  return picked;
}
