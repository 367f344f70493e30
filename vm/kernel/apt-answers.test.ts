import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aptCache, type AptAnswer } from './apt-answers.ts';

describe('aptCache', () => {
  let lists: string;
  const saved = process.env.IH_CACHE_DIR;
  beforeEach(() => {
    process.env.IH_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ih-apt-cache-'));
    lists = mkdtempSync(join(tmpdir(), 'ih-apt-lists-'));
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), 'Package: a\n');
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.IH_CACHE_DIR;
    else process.env.IH_CACHE_DIR = saved;
  });

  function counting(answer: AptAnswer) {
    const calls: string[][] = [];
    return { calls, run: async (a: string[]) => { calls.push(a); return answer; } };
  }

  it('answers again from the cache while the package lists are unchanged', async () => {
    const f = counting({ exitCode: 0, stdout: 'linux-image-6.1.0-56-amd64-unsigned - Linux 6.1', stderr: '' });
    const first = await aptCache(['search', 'x'], { lists, run: f.run });
    const second = await aptCache(['search', 'x'], { lists, run: f.run });
    expect(first).toMatchObject({ cached: false, stdout: 'linux-image-6.1.0-56-amd64-unsigned - Linux 6.1' });
    expect(second).toMatchObject({ cached: true, exitCode: 0, stdout: first.stdout });
    expect(f.calls).toHaveLength(1);
    await aptCache(['search', 'y'], { lists, run: f.run });
    expect(f.calls).toHaveLength(2);
  });

  it('asks apt again once a list changed (apt-get update)', async () => {
    const f = counting({ exitCode: 0, stdout: 'old', stderr: '' });
    await aptCache(['show', 'p'], { lists, run: f.run });
    writeFileSync(join(lists, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), 'Package: a\nPackage: b\n');
    expect(await aptCache(['show', 'p'], { lists, run: f.run })).toMatchObject({ cached: false });
    expect(f.calls).toHaveLength(2);
  });

  it('keeps no failed answer and caches nothing without package lists', async () => {
    const failing = counting({ exitCode: 100, stdout: '', stderr: 'E: No packages found' });
    await aptCache(['show', 'nope'], { lists, run: failing.run });
    await aptCache(['show', 'nope'], { lists, run: failing.run });
    expect(failing.calls).toHaveLength(2);
    const empty = mkdtempSync(join(tmpdir(), 'ih-apt-nolists-'));
    const ok = counting({ exitCode: 0, stdout: '', stderr: '' });
    await aptCache(['search', 'x'], { lists: empty, run: ok.run });
    await aptCache(['search', 'x'], { lists: empty, run: ok.run });
    expect(ok.calls).toHaveLength(2);
  });
});
