// Test helper: loads scenario bodies written to a temporary directory, and the loader's error for a bad one.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { stringify } from 'yaml';
import { loadScenario, ScenarioError, type Scenario } from './load.ts';

export interface ScenarioLoader {
  dir: string;
  load(body: unknown, name?: string): Promise<Scenario>;
  /** The ScenarioError message a body produces (fails the test if it loads, or throws something else). */
  errorOf(body: unknown): Promise<string>;
}

export function scenarioLoader(prefix: string, defaultName = 'case.yaml'): ScenarioLoader {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const load = async (body: unknown, name = defaultName): Promise<Scenario> => {
    const file = join(dir, name);
    writeFileSync(file, stringify(body));
    return loadScenario(file, dir);
  };
  const errorOf = async (body: unknown): Promise<string> => {
    const e = await load(body).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message;
  };
  return { dir, load, errorOf };
}
