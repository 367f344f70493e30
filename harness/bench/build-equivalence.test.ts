// The fast path (vm/kernel/build-fast.ts) builds the same kernel as the full make (opt-in: IH_SLOW_TESTS=1;
// it needs a finished base build of src:6.1 in IH_CACHE_DIR and runs two patched builds per case, ~1-2 min
// each). Two scratch caches start from copies of that base build; the same patch is built with the fast path
// in one and the full make in the other, ccache off. Cases: a new global function in dm-flakey.c (the link
// layout and kallsyms change), and a new first field in struct mapped_device in drivers/md/dm-core.h (every
// object using it changes; one the fast path missed would keep the old offsets). The vmlinux files must be
// byte for byte equal once the two things that differ by design are mapped onto each other: UTS_VERSION (link
// time stamp, init/version-timestamp.o) and the build-id note computed over it. System.map must be equal.
import { promises as fs } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDir } from '../../vm/cache.ts';
import { buildKernel } from '../../vm/kernel/build.ts';
import { resolveSource } from '../../vm/kernel/build-source.ts';
import { buildPath, scratchCache } from './build.ts';

const MARKER = 'ih_equivalence_marker';
const root = mkdtempSync(path.join(tmpdir(), 'ih-equiv-'));
afterAll(() => {
  if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});

async function makePatch(srcDir: string, name: string, file: string, change: (text: string) => string): Promise<string> {
  const before = await fs.readFile(path.join(srcDir, file), 'utf8');
  const after = change(before);
  expect(after).not.toBe(before);
  const a = path.join(root, `${name}.a`);
  const b = path.join(root, `${name}.b`);
  await fs.writeFile(a, before);
  await fs.writeFile(b, after);
  const diff = await execa('diff', ['-u', '--label', `a/${file}`, '--label', `b/${file}`, a, b], { reject: false });
  const out = path.join(root, `${name}.patch`);
  await fs.writeFile(out, `${diff.stdout}\n`);
  return out;
}

const CASES = [
  {
    name: 'function',
    file: 'drivers/md/dm-flakey.c',
    change: (t: string) => `${t}\nint ${MARKER}(int x);\nint ${MARKER}(int x)\n{\n\treturn x * 3 + 1;\n}\n`,
    path: /^fast path: 1 object depends on the patch \(drivers\/md\/dm-flakey\.o\)/,
    symbol: MARKER,
  },
  {
    name: 'header',
    file: 'drivers/md/dm-core.h',
    change: (t: string) => t.replace('struct mapped_device {\n', `struct mapped_device {\n\tunsigned long ${MARKER};\n`),
    path: /^fast path: 11 objects depend on the patch \(drivers\/md\/dm-builtin\.o, /,
    symbol: undefined,
  },
];

async function patchedBuildDir(cache: string): Promise<string> {
  const src = path.join(cache, 'src');
  const patched = (await fs.readdir(src)).filter((e) => e.startsWith('patched-'));
  expect(patched).toHaveLength(1);
  const outs = (await fs.readdir(path.join(src, patched[0]!))).filter((e) => e.startsWith('ih-out-'));
  expect(outs).toHaveLength(1);
  return path.join(src, patched[0]!, outs[0]!);
}

async function utsVersion(outDir: string): Promise<string> {
  const text = await fs.readFile(path.join(outDir, 'include/generated/utsversion.h'), 'utf8');
  const m = /#define UTS_VERSION "(.*)"/.exec(text);
  if (!m) throw new Error(`no UTS_VERSION in ${outDir}/include/generated/utsversion.h`);
  return m[1]!;
}

async function buildId(vmlinux: string): Promise<string> {
  const { stdout } = await execa('readelf', ['-n', vmlinux]);
  const m = /Build ID: ([0-9a-f]+)/.exec(stdout);
  if (!m) throw new Error(`no build-id note in ${vmlinux}`);
  return m[1]!;
}

function replaceAll(buf: Buffer, from: Buffer, to: Buffer): number {
  expect(to.length).toBe(from.length);
  let n = 0;
  for (let at = buf.indexOf(from); at !== -1; at = buf.indexOf(from, at + from.length)) {
    to.copy(buf, at);
    n += 1;
  }
  return n;
}

describe.skipIf(process.env.IH_SLOW_TESTS !== '1')('fast path vs full make', () => {
  it.each(CASES)('gives the same vmlinux for a one-file patch ($name, $file)', { timeout: 1_800_000 }, async (c) => {
    const real = process.env.IH_CACHE_DIR ?? cacheDir();
    const log = (l: string) => process.stdout.write(`${l}\n`);
    const fastCache = await scratchCache(real, path.join(root, c.name, 'fast'), '6.1', log);
    const fullCache = await scratchCache(real, path.join(root, c.name, 'full'), '6.1', log);
    const source = { kind: 'debian-src', version: '6.1' } as const;
    const patch = await makePatch((await resolveSource(source, { cacheDir: fastCache, warn: log, log })).dir, c.name, c.file, c.change);
    const saved = process.env.CCACHE_DISABLE;
    process.env.CCACHE_DISABLE = '1';
    try {
      const fast = await buildKernel({ source, patches: [patch], cacheDir: fastCache, onStatus: log });
      const full = await buildKernel({ source, patches: [patch], cacheDir: fullCache, onStatus: log, fastRebuild: false });
      expect(buildPath(await fs.readFile(fast.buildLog, 'utf8'))).toMatch(c.path);
      expect(buildPath(await fs.readFile(full.buildLog, 'utf8'))).toBe('full make: the fast path is off for this build');
      log(`${c.name}: fast path ${(fast.durationMs / 1000).toFixed(1)} s, full make ${(full.durationMs / 1000).toFixed(1)} s`);
    } finally {
      if (saved === undefined) delete process.env.CCACHE_DISABLE;
      else process.env.CCACHE_DISABLE = saved;
    }

    const fastOut = await patchedBuildDir(fastCache);
    const fullOut = await patchedBuildDir(fullCache);
    const fastMap = await fs.readFile(path.join(fastOut, 'System.map'), 'utf8');
    if (c.symbol !== undefined) expect(fastMap).toMatch(new RegExp(` T ${c.symbol}\\n`));
    expect(fastMap === (await fs.readFile(path.join(fullOut, 'System.map'), 'utf8'))).toBe(true);

    const fastImage = await fs.readFile(path.join(fastOut, 'vmlinux'));
    const fullImage = await fs.readFile(path.join(fullOut, 'vmlinux'));
    expect(fastImage.length).toBe(fullImage.length);
    const [fastUts, fullUts] = [await utsVersion(fastOut), await utsVersion(fullOut)];
    // Both builds copied the same .version, so only the time stamp differs (same length).
    const utsHits = replaceAll(fastImage, Buffer.from(fastUts), Buffer.from(fullUts));
    expect(utsHits).toBeGreaterThan(0);
    const idHits = replaceAll(fastImage, Buffer.from(await buildId(path.join(fastOut, 'vmlinux')), 'hex'), Buffer.from(await buildId(path.join(fullOut, 'vmlinux')), 'hex'));
    expect(idHits).toBe(1);
    let firstDiff = -1;
    for (let i = 0; i < fastImage.length && firstDiff === -1; i += 1) if (fastImage[i] !== fullImage[i]) firstDiff = i;
    log(`${c.name}: vmlinux ${fastImage.length} bytes; UTS_VERSION "${fastUts}" vs "${fullUts}" (${utsHits} places), build-id 1 place; first other difference at ${firstDiff}`);
    expect(firstDiff).toBe(-1);
  });
});
