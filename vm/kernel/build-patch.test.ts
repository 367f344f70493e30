import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KernelPatchError } from './build-errors.ts';
import { parseHunks, patchFailureDetail } from './build-patch.ts';
import { loadPatches, patchedSource, type ResolvedSource } from './build-source.ts';

const lines = (n: number, edit: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => edit[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

// Two hunks on block/x.c (lines 5 and 30), as `diff -ruN a b` writes them.
const PATCH = `Subject: [PATCH] test\n---\ndiff -ruN a/block/x.c b/block/x.c
--- a/block/x.c
+++ b/block/x.c
@@ -2,7 +2,7 @@
 line 2
 line 3
 line 4
-line 5
+line five
 line 6
 line 7
 line 8
@@ -27,7 +27,7 @@
 line 27
 line 28
 line 29
-line 30
+line thirty
 line 31
 line 32
 line 33
`;

function tree(content: string): ResolvedSource {
  const dir = mkdtempSync(join(tmpdir(), 'ih-tree-'));
  mkdirSync(join(dir, 'block'));
  writeFileSync(join(dir, 'block', 'x.c'), content);
  return { dir, key: `k-${Math.random()}`, description: `test tree ${dir}`, cacheOwned: false };
}

async function apply(source: ResolvedSource, patchText: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'ih-patch-')), 'fix.patch');
  writeFileSync(file, patchText);
  const cacheDir = mkdtempSync(join(tmpdir(), 'ih-cache-'));
  const patched = await patchedSource(source, await loadPatches([file]), { cacheDir, warn: () => undefined, log: () => undefined });
  return { file, patched };
}

describe('parseHunks', () => {
  it('numbers hunks per file, as GNU patch reports them', () => {
    const hunks = parseHunks(PATCH);
    expect(hunks.map((h) => [h.file, h.index, h.header])).toEqual([
      ['block/x.c', 1, '@@ -2,7 +2,7 @@'],
      ['block/x.c', 2, '@@ -27,7 +27,7 @@'],
    ]);
    expect(hunks[1]!.lines).toContain('+line thirty');
  });
});

describe('patchFailureDetail', () => {
  it('quotes the rejected hunk with its file and line', () => {
    const detail = patchFailureDetail(PATCH, 'checking file block/x.c\nHunk #2 FAILED at 27.\n1 out of 2 hunks FAILED\n');
    expect(detail).toContain('block/x.c: hunk #2 rejected (expected near line 27)');
    expect(detail).toContain('@@ -27,7 +27,7 @@');
    expect(detail).toContain('-line 30');
    expect(detail).not.toContain('-line 5');
  });

  it('names a missing file and an already-applied patch', () => {
    expect(patchFailureDetail(PATCH, "can't find file to patch at input line 4\n")).toContain('a file it patches does not exist');
    expect(patchFailureDetail(PATCH, 'checking file block/x.c\nReversed (or previously applied) patch detected!  Skipping patch.\n')).toContain(
      'block/x.c: already applied (or reversed)',
    );
  });
});

describe('patchedSource', () => {
  it('applies a patch to a copy and leaves the original alone', async () => {
    const source = tree(lines(40));
    const { patched } = await apply(source, PATCH);
    expect(readFileSync(join(patched.dir, 'block', 'x.c'), 'utf8')).toBe(lines(40, { 5: 'line five', 30: 'line thirty' }));
    expect(readFileSync(join(source.dir, 'block', 'x.c'), 'utf8')).toBe(lines(40));
    expect(patched.description).toContain('+ patches fix.patch');
  });

  it('says which patch and which hunk did not apply', async () => {
    const source = tree(lines(40, { 29: 'changed 29' }));
    const err = await apply(source, PATCH).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelPatchError);
    const e = err as KernelPatchError;
    expect(e.patchFile).toMatch(/fix\.patch$/);
    expect(e.message).toMatch(/^patch \/.*fix\.patch does not apply: block\/x\.c: hunk #2 rejected \(expected near line 27\)/);
    expect(e.message).toContain('-line 30');
  });
});
