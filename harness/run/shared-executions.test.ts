import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newGuestDir } from './shared-executions.ts';

describe('newGuestDir', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'ih-guestdir-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('claims the first guests/<label>-<n> not taken, so a second pass in the same run never reuses one', async () => {
    await mkdir(join(dir, 'guests', '6.1-1'), { recursive: true });
    await mkdir(join(dir, 'guests', '6.1-3'), { recursive: true });
    expect(await newGuestDir({ dir }, '6.1')).toBe(join(dir, 'guests', '6.1-2'));
    expect(await newGuestDir({ dir }, '6.1')).toBe(join(dir, 'guests', '6.1-4'));
    expect(await newGuestDir({ dir }, '6.12')).toBe(join(dir, 'guests', '6.12-1'));
  });

  it('gives workers asking at once distinct directories', async () => {
    const got = await Promise.all(Array.from({ length: 6 }, () => newGuestDir({ dir }, 'k')));
    expect(new Set(got).size).toBe(6);
    expect((await readdir(join(dir, 'guests'))).sort()).toEqual(['k-1', 'k-2', 'k-3', 'k-4', 'k-5', 'k-6']);
  });
});
