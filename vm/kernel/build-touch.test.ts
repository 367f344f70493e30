import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { touchPatchedFiles } from './build.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'ih-touch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const patch = (file: string) => `--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-old\n+new\n`;

describe('touchPatchedFiles', () => {
  it('makes the files a patch replaced newer than anything built before, and leaves hard-linked ones alone', async () => {
    const base = path.join(dir, 'base');
    const patched = path.join(dir, 'patched');
    mkdirSync(path.join(base, 'block'), { recursive: true });
    mkdirSync(path.join(patched, 'block'), { recursive: true });
    writeFileSync(path.join(base, 'block/shared.c'), 'old\n');
    linkSync(path.join(base, 'block/shared.c'), path.join(patched, 'block/shared.c'));
    writeFileSync(path.join(patched, 'block/bio-integrity.c'), 'new\n');
    const long = new Date('2020-01-01T00:00:00Z');
    utimesSync(path.join(patched, 'block/bio-integrity.c'), long, long);
    utimesSync(path.join(patched, 'block/shared.c'), long, long);
    const before = Date.now() - 1000;

    const n = await touchPatchedFiles(patched, [
      { file: 'p1.patch', text: patch('block/bio-integrity.c') },
      { file: 'p2.patch', text: patch('block/shared.c') + patch('block/deleted.c') },
    ]);

    expect(n).toBe(1);
    expect(statSync(path.join(patched, 'block/bio-integrity.c')).mtimeMs).toBeGreaterThan(before);
    expect(statSync(path.join(base, 'block/shared.c')).mtimeMs).toBe(long.getTime());
  });
});
