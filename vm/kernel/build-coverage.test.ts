import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMatrixArgs } from '../../harness/config.ts';
import { UsageError } from '../../harness/errors.ts';
import { checkCoverageObjects, coverageMakeArgs, DEFAULT_COVERAGE_OBJECTS, readCoverageFile } from './build-coverage.ts';

describe('--coverage', () => {
  it('profiles the integrity path by per-object make variables', () => {
    expect(coverageMakeArgs(DEFAULT_COVERAGE_OBJECTS)).toEqual([
      'GCOV_PROFILE_bio-integrity.o=y', 'GCOV_PROFILE_blk-integrity.o=y', 'GCOV_PROFILE_dm-crypt.o=y',
      'GCOV_PROFILE_dm-integrity.o=y', 'GCOV_PROFILE_dm-log-writes.o=y', 'GCOV_PROFILE_dm-table.o=y',
    ]);
  });

  it('makes source kernels a separate build (+gcov) and leaves packaged ones alone', () => {
    const cfg = parseMatrixArgs(['--kernel', 'src:6.1', '--kernel', '6.1', '--coverage'], {});
    expect(cfg.kernels.map((k) => k.text)).toEqual(['src:6.1 --coverage', '6.1']);
    expect(cfg.kernels[0]).toMatchObject({ build: { coverage: [...DEFAULT_COVERAGE_OBJECTS] } });
    expect(cfg.coverage).toEqual([...DEFAULT_COVERAGE_OBJECTS]);
    expect(parseMatrixArgs(['--kernel', 'src:6.1'], {}).coverage).toBeUndefined();
  });

  it('needs a kernel built here', () => {
    expect(() => parseMatrixArgs(['--kernel', '6.1', '--coverage'], {})).toThrow(UsageError);
    expect(() => parseMatrixArgs(['--kernel', '6.1', '--coverage'], {})).toThrow(/needs a kernel built from source/);
  });

  it('--coverage-file adds objects and names the line that is not one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ih-covfile-'));
    try {
      const file = join(dir, 'more.txt');
      writeFileSync(file, '# dm-bufio too\ndrivers/md/dm-bufio.o\n\ndrivers/md/dm-integrity.o  # already in\n');
      expect(readCoverageFile(file)).toEqual(['drivers/md/dm-bufio.o', 'drivers/md/dm-integrity.o']);
      const cfg = parseMatrixArgs(['--kernel', 'src:6.1', '--coverage-file', file], {});
      expect(cfg.coverage).toEqual([...DEFAULT_COVERAGE_OBJECTS, 'drivers/md/dm-bufio.o']);
      writeFileSync(file, 'drivers/md/dm-bufio.c\n');
      expect(() => parseMatrixArgs(['--kernel', 'src:6.1', '--coverage-file', file], {})).toThrow(/dm-bufio\.c' is not an object path/);
      expect(() => parseMatrixArgs(['--kernel', 'src:6.1', '--coverage-file', join(dir, 'none')], {})).toThrow(/cannot be read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses paths that are not objects of the tree', () => {
    expect(() => checkCoverageObjects(['/abs/x.o'], 'x')).toThrow(/not an object path/);
    expect(() => checkCoverageObjects(['../x.o'], 'x')).toThrow(/not an object path/);
  });
});
