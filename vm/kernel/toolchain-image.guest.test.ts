// --toolchain-image for real: src:6.1 built by the compiler of a container image (not the host's), booted, and a
// scenario passed on it. The proof that the image's compiler built it is the kernel's own banner in the
// guest's /proc/version, compared with what `gcc --version` says inside the image and on the host.
// Opt-in (IH_SLOW_TESTS=1): it is a full kernel build with no ccache (6-10 min on 2 cores), and it needs a
// running podman or docker with a toolchain image (IH_TOOLCHAIN_TEST_IMAGE, default ih-toolchain:bullseye;
// docs/matrix.md says how to make one from Debian bullseye without a registry). Once opted in, a missing
// runtime or image fails the test with what to do; it never passes without building in the container.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Summary } from '../../harness/results.ts';
import { repoRoot } from '../cache.ts';
import { resolveToolchainImage } from './toolchain-container.ts';

const IMAGE = process.env.IH_TOOLCHAIN_TEST_IMAGE ?? 'ih-toolchain:bullseye';
const root = mkdtempSync(path.join(tmpdir(), 'ih-toolchain-image-'));
afterAll(() => {
  if (!process.env.IH_KEEP_TEST_DIR) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(process.env.IH_SLOW_TESTS !== '1')(`src:6.1 built in the toolchain image ${IMAGE}`, () => {
  it('builds with the image\'s compiler, boots, and passes integrity/001', { timeout: 3_600_000 }, async () => {
    const tc = await resolveToolchainImage(IMAGE);
    const inImage = (await execa(tc.runtime, ['run', '--rm', '--network', 'none', tc.imageId, 'gcc', '--version'])).stdout.split('\n')[0]!.trim();
    const onHost = (await execa('gcc', ['--version'])).stdout.split('\n')[0]!.trim();
    // the test proves nothing when the image's compiler is the host's
    expect(inImage, `${IMAGE} must carry another GCC than the host's (${onHost})`).not.toBe(onHost);

    const results = path.join(root, 'results');
    const run = await execa(
      'npm',
      ['run', '--silent', 'matrix', '--', '--kernel', 'src:6.1', '--toolchain-image', IMAGE, '--scenario', 'integrity/001*', '--results', results],
      { cwd: repoRoot(), reject: false, all: true },
    );
    expect(run.exitCode, run.all).toBe(0);
    const runDir = path.join(results, 'latest');
    const summary = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
    expect(summary.cells.map((c) => c.verdict)).toEqual(['pass']);
    const kernel = summary.kernels[0]!;
    expect(kernel.spec).toBe(`src:6.1 --toolchain-image ${IMAGE}`);

    const buildLog = readFileSync(path.join(runDir, kernel.buildLog!), 'utf8');
    expect(buildLog).toContain(`# toolchain: ${tc.runtime} image ${IMAGE} (${tc.imageId}): ${inImage}`);
    expect(buildLog).toMatch(new RegExp(`^\\$ ${tc.runtime} run --rm --init .* ${tc.imageId} make `, 'm'));

    // The guest's kernel says which compiler built it: "Linux version 6.1.x (...) (gcc (Debian 10.2.1-6) 10.2.1 ...".
    const cell = summary.cells[0]!;
    const observations = readFileSync(path.join(runDir, cell.dir, 'observations.jsonl'), 'utf8');
    const banner = /Linux version [^\n"]*/.exec(observations)?.[0] ?? '';
    expect(banner).toContain(inImage.replace(/^gcc /, ''));
    expect(banner).not.toContain(onHost.replace(/^gcc /, ''));
  });
});
