import { describe, expect, it } from 'vitest';
import type { Scenario } from './load.ts';
import { ScenarioError } from './load.ts';
import { coverGlobs, selectScenarios } from './discover.ts';

const sc = (id: string, slow?: string) => ({ id, ...(slow !== undefined ? { slow } : {}) }) as Scenario;
const LIB = [
  sc('crash/001', 'replays crash points: minutes'), sc('crash/002', 'replays crash points: minutes'),
  sc('crypt/001'), sc('integrity/001'), sc('integrity/002'), sc('integrity/090', 'a long soak of many minutes'),
];
const ids = (xs: Scenario[]) => xs.map((s) => s.id);

describe('selectScenarios: the default library is the quick scenarios', () => {
  it('without --scenario leaves every slow scenario out and says which', () => {
    const sel = selectScenarios(LIB, []);
    expect(ids(sel.scenarios)).toEqual(['crypt/001', 'integrity/001', 'integrity/002']);
    expect(sel.slowNotRun).toEqual({ scenarios: ['crash/001', 'crash/002', 'integrity/090'], globs: ['crash/*', 'integrity/090'] });
  });

  it('--slow adds them', () => {
    const sel = selectScenarios(LIB, [], { slow: true });
    expect(ids(sel.scenarios)).toEqual(ids(LIB));
    expect(sel.slowNotRun).toEqual({ scenarios: [], globs: [] });
  });

  it('an explicit --scenario runs the slow scenarios it matches, and leaves nothing out for slowness', () => {
    const sel = selectScenarios(LIB, ['crash/*']);
    expect(ids(sel.scenarios)).toEqual(['crash/001', 'crash/002']);
    expect(sel.slowNotRun.scenarios).toEqual([]);
    expect(ids(selectScenarios(LIB, ['integrity/*']).scenarios)).toEqual(['integrity/001', 'integrity/002', 'integrity/090']);
    expect(ids(selectScenarios(LIB, ['**']).scenarios)).toEqual(ids(LIB));
  });

  it('--slow with --scenario changes nothing: the glob already chose', () => {
    expect(selectScenarios(LIB, ['integrity/00*'], { slow: true })).toEqual(selectScenarios(LIB, ['integrity/00*']));
  });

  it('a glob that matches nothing is a usage error naming the scenarios', () => {
    expect(() => selectScenarios(LIB, ['luks/*'])).toThrow(ScenarioError);
    expect(() => selectScenarios(LIB, ['luks/*'])).toThrow(/--scenario luks\/\*: matches none of crash\/001/);
  });

  it('a library of only slow scenarios asks for --slow instead of running nothing', () => {
    expect(() => selectScenarios([sc('crash/001', 'minutes each under TCG')], [], { dir: '/s' })).toThrow(/every scenario under \/s is slow \(crash\/001\): add --slow/);
    expect(() => selectScenarios([], [], { dir: '/s' })).toThrow(/no scenario files under \/s/);
  });

  it('with no slow scenario leaves nothing out', () => {
    const quick = LIB.filter((s) => s.slow === undefined);
    expect(selectScenarios(quick, []).slowNotRun).toEqual({ scenarios: [], globs: [] });
  });
});

describe('coverGlobs', () => {
  it('a whole directory becomes dir/*, a part of one stays ids', () => {
    expect(coverGlobs(['a/1', 'a/2', 'b/1'], ['a/1', 'a/2', 'b/1', 'b/2'])).toEqual(['a/*', 'b/1']);
    expect(coverGlobs(['top'], ['top', 'a/1'])).toEqual(['top']);
    expect(coverGlobs(['x/y/1'], ['x/y/1', 'x/2'])).toEqual(['x/y/*']);
  });
});
