import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPILER_MISMATCH_HINT, KernelBuildError, KernelPatchError } from '../../vm/kernel/build-errors.ts';
import { buildFailureReason, CELL_LOG_TAIL, keepBuildLog } from './kernel-build.ts';

describe('buildFailureReason', () => {
  const tail = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`);

  it('gives the failing step, the kept log and the last lines of the log', () => {
    const e = new KernelBuildError(`kernel build failed: make bzImage exited 2; log: /c/logs/k.log\n--- last 30 lines ---\n${tail.join('\n')}`, { logTail: tail, logFile: '/c/logs/k.log' });
    const reason = buildFailureReason(e, 'kernels/src_6.1.build.log').split('\n');
    expect(reason[0]).toBe('kernel build failed: make bzImage exited 2 (build log: kernels/src_6.1.build.log in the run directory)');
    expect(reason.slice(2)).toEqual(tail.slice(-CELL_LOG_TAIL).map((l) => `  ${l}`));
  });

  it('keeps the compiler-mismatch hint', () => {
    const e = new KernelBuildError(`kernel build failed: make bzImage exited 2; log: /l\n--- last 1 lines ---\nx\n${COMPILER_MISMATCH_HINT}`, { logTail: ['x'], logFile: '/l' });
    expect(buildFailureReason(e, undefined)).toMatch(/\(build log: \/l\)\n.*\n  x\nThis looks like a compiler/);
  });

  it('quotes a patch failure whole: it names the patch and the hunk', () => {
    const e = new KernelPatchError('/p/x.patch', 'patch /p/x.patch does not apply: block/x.c: hunk #2 rejected (expected near line 27):\n@@ -27,7 +27,7 @@');
    expect(buildFailureReason(e, undefined)).toBe(e.message);
  });
});

describe('keepBuildLog', () => {
  it('copies the log into <run>/kernels/ under a file-system-safe name', async () => {
    const run = mkdtempSync(join(tmpdir(), 'ih-run-'));
    const log = join(run, 'src.log');
    writeFileSync(log, 'make output\n');
    const rel = await keepBuildLog(run, 'src:6.1+fix', log);
    expect(rel).toBe('kernels/src_6.1+fix.build.log');
    expect(readFileSync(join(run, rel!), 'utf8')).toBe('make output\n');
    expect(await keepBuildLog(run, 'x', join(run, 'missing.log'))).toBeUndefined();
    expect(await keepBuildLog(run, 'x', undefined)).toBeUndefined();
  });
});
