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

/** Slow scenarios the default selection left out: their ids, and the shortest exact cover of them by globs. */
export interface SlowNotRun {
  scenarios: string[];
  /** "crash/*" when every scenario of a directory was left out, else the ids themselves */
  globs: string[];
}

export interface ScenarioSelection {
  scenarios: Scenario[];
  slowNotRun: SlowNotRun;
}

/**
 * Which scenarios a run executes (blktests' QUICK_RUN). Without --scenario: the default library, every
 * scenario not marked `slow`, plus the slow ones with --slow. A --scenario glob is an explicit choice: it
 * selects every scenario it matches, slow or not. Only the default selection leaves slow scenarios out,
 * and it says which.
 */
export function selectScenarios(all: Scenario[], globs: string[], opts: { slow?: boolean; dir?: string } = {}): ScenarioSelection {
  const none: SlowNotRun = { scenarios: [], globs: [] };
  if (globs.length > 0) {
    const res = globs.map(globToRegExp);
    const picked = all.filter((s) => res.some((r) => r.test(s.id)));
    if (picked.length === 0) throw new ScenarioError(`--scenario ${globs.join(' ')}: matches none of ${all.map((s) => s.id).join(', ')}`);
    return { scenarios: picked, slowNotRun: none };
  }
  if (all.length === 0) throw new ScenarioError(`no scenario files under ${opts.dir ?? 'the scenarios directory'}`);
  if (opts.slow) return { scenarios: all, slowNotRun: none };
  const scenarios = all.filter((s) => s.slow === undefined);
  const left = all.filter((s) => s.slow !== undefined).map((s) => s.id);
  if (scenarios.length === 0) throw new ScenarioError(`every scenario under ${opts.dir ?? 'the scenarios directory'} is slow (${left.join(', ')}): add --slow or name them with --scenario`);
  return { scenarios, slowNotRun: { scenarios: left, globs: coverGlobs(left, all.map((s) => s.id)) } };
}

/** The ids as globs: a directory whose every scenario is among them becomes "<dir>/*". */
export function coverGlobs(ids: string[], allIds: string[]): string[] {
  const dirOf = (id: string) => (id.includes('/') ? id.slice(0, id.lastIndexOf('/')) : undefined);
  const chosen = new Set(ids);
  const out: string[] = [];
  const done = new Set<string>();
  for (const id of ids) {
    const dir = dirOf(id);
    if (dir === undefined) { out.push(id); continue; }
    if (done.has(dir)) continue;
    const inDir = allIds.filter((x) => dirOf(x) === dir);
    if (inDir.every((x) => chosen.has(x))) {
      out.push(`${dir}/*`);
      done.add(dir);
    } else {
      out.push(id);
    }
  }
  return out;
}

/** Loads every scenario under `dir`, validating all before any guest boots. */
export async function loadScenarios(dir: string): Promise<Scenario[]> {
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
  return scenarios;
}

/** Loads every scenario under `dir` and selects the run's (selectScenarios). */
export async function discoverScenarios(dir: string, globs: string[] = [], opts: { slow?: boolean } = {}): Promise<ScenarioSelection> {
  return selectScenarios(await loadScenarios(dir), globs, { ...opts, dir });
}
