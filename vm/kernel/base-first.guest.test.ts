// A patched build of a source with no finished unpatched build builds the base first, then recompiles only
// what the patch changes (vm/kernel/build.ts, buildBaseFirst). Real builds of src:6.1 in a scratch cache
// that shares the unpacked source (hard links) and the real cache's ccache, so the base build is mostly
// ccache hits (~1.5 min here; a cold ccache makes it a full build, ~12 min); no guest boots. Opt-in
// (IH_SLOW_TESTS=1): in the default run the first patched build of a fresh cache takes this path anyway, and
// source-kernel.guest.test.ts checks that a patched build starts from the base's objects.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { oneFilePatch, scratchCache } from '../../harness/bench/build.ts';
import { cacheDir } from '../cache.ts';
import { baseBuildDir, buildKernel } from './build.ts';
import { resolveSource } from './build-source.ts';

const root = mkdtempSync(path.join(tmpdir(), 'ih-base-first-'));
afterAll(() => {
  if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(process.env.IH_SLOW_TESTS !== '1')('a patched src:6.1 build in a cache without the unpatched build', () => {
  it('builds the base first, seeds the patched build from it, and leaves the base cached', { timeout: 3_600_000 }, async () => {
    const say = (l: string) => process.stderr.write(`${l}\n`);
    const realCache = process.env.IH_CACHE_DIR ?? cacheDir();
    const scratch = await scratchCache(realCache, root, '6.1', say, true);
    const source = { kind: 'debian-src', version: '6.1' } as const;
    const srcDir = (await resolveSource(source, { cacheDir: scratch, warn: say, log: say })).dir;
    const patch = await oneFilePatch(srcDir, root, 'base_first');
    const saved = process.env.CCACHE_DIR;
    process.env.CCACHE_DIR = saved ?? path.join(realCache, 'ccache');
    const statuses: string[] = [];
    try {
      const patched = await buildKernel({ source, patches: [patch], cacheDir: scratch, onStatus: (l) => { statuses.push(l); say(l); } });
      expect(patched.fromCache).toBe(false);
      const log = readFileSync(patched.buildLog, 'utf8');
      expect(log, log.slice(0, 4000)).toMatch(/^# built the unpatched base first \(/m);
      expect(log).toMatch(/^# reusing objects of .*\/ih-out-/m);
      expect(log).toMatch(/^# fast path: /m);
      expect(statuses.some((s) => /^building the unpatched .* first/.test(s))).toBe(true);
      expect(readFileSync(path.join(await baseBuildDir({ source, cacheDir: scratch }), '.ih-built'), 'utf8')).not.toBe('');

      // The base is a cached kernel of its own now: asking for it builds nothing.
      const base = await buildKernel({ source, cacheDir: scratch });
      expect(base.fromCache).toBe(true);
      expect(base.cacheKey).not.toBe(patched.cacheKey);
      expect(base.release).toBe(patched.release);
    } finally {
      if (saved === undefined) delete process.env.CCACHE_DIR;
      else process.env.CCACHE_DIR = saved;
    }
  });
});
