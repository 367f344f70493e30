import { describe, expect, it } from 'vitest';
import { kernelArgs, splitKernelSpec } from '../../harness/report/kernel-inputs.ts';
import { configKey } from './build-cache.ts';
import { KernelSpecError } from './build-errors.ts';
import { containerArgv, resolveToolchainImage, type ToolchainContainer } from './toolchain-container.ts';

type Answer = { exitCode: number; stdout?: string; stderr?: string };

/** A fake runtime: answers by "<program> <first args>" prefix and records every call. */
function fakeExec(answers: Record<string, Answer | undefined>) {
  const calls: string[] = [];
  const exec = async (file: string, args: readonly string[]) => {
    const line = [file, ...args].join(' ');
    calls.push(line);
    const key = Object.keys(answers).filter((k) => line.startsWith(k)).sort((a, b) => b.length - a.length)[0];
    const a = key !== undefined ? answers[key] : undefined;
    if (a === undefined) throw new Error(`spawn ${file} ENOENT`);
    return { exitCode: a.exitCode, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  };
  return { exec, calls };
}

describe('resolveToolchainImage', () => {
  it('takes the first installed runtime that has the image and returns its id', async () => {
    const { exec, calls } = fakeExec({
      'docker --version': { exitCode: 0 },
      'docker image inspect': { exitCode: 0, stdout: 'sha256:abc\n' },
    });
    const tc = await resolveToolchainImage('ih-toolchain:bullseye', { runtimes: ['podman', 'docker'], exec });
    expect(tc).toEqual({ runtime: 'docker', image: 'ih-toolchain:bullseye', imageId: 'sha256:abc' });
    expect(calls[0]).toBe('podman --version');
    expect(calls).not.toContain('docker pull ih-toolchain:bullseye');
  });

  it('pulls an image the runtime does not have, then inspects it again', async () => {
    let pulled = false;
    const calls: string[] = [];
    const exec = async (file: string, args: readonly string[]) => {
      const line = [file, ...args].join(' ');
      calls.push(line);
      if (line === 'podman --version' || line === 'podman info') return { exitCode: 0, stdout: '', stderr: '' };
      if (line === 'podman pull tuxmake/x86_64_gcc-8') {
        pulled = true;
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      if (line.startsWith('podman image inspect')) return pulled ? { exitCode: 0, stdout: 'sha256:f00', stderr: '' } : { exitCode: 125, stdout: '', stderr: 'Error: no such image' };
      throw new Error('unexpected');
    };
    await expect(resolveToolchainImage('tuxmake/x86_64_gcc-8', { runtimes: ['podman'], exec })).resolves.toMatchObject({ imageId: 'sha256:f00' });
    expect(calls).toContain('podman pull tuxmake/x86_64_gcc-8');
  });

  it('names the image and the pull error when the image can be neither found nor pulled', async () => {
    const { exec } = fakeExec({
      'docker --version': { exitCode: 0 },
      'docker image inspect': { exitCode: 1, stderr: 'Error: No such image: tuxmake/x86_64_gcc-8' },
      'docker info': { exitCode: 0 },
      'docker pull': { exitCode: 1, stderr: 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' },
    });
    await expect(resolveToolchainImage('tuxmake/x86_64_gcc-8', { runtimes: ['docker'], exec })).rejects.toThrow(
      new KernelSpecError(
        '--toolchain-image tuxmake/x86_64_gcc-8: docker has no such image and could not pull it (docker pull: Error response from daemon: ' +
          'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host); pull or build it first ' +
          '(docs/matrix.md, "Building in a toolchain container")',
      ),
    );
  });

  it('says a runtime whose daemon is down is not usable, and what to install when none is there', async () => {
    const down = fakeExec({
      'docker --version': { exitCode: 0 },
      'docker image inspect': { exitCode: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' },
      'docker info': { exitCode: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' },
    });
    await expect(resolveToolchainImage('img', { runtimes: ['podman', 'docker'], exec: down.exec })).rejects.toThrow(
      /--toolchain-image img: docker is installed but not usable \(docker info: Cannot connect to the Docker daemon.*\); install one \(apt-get install podman/,
    );
    const none = fakeExec({});
    await expect(resolveToolchainImage('img', { runtimes: ['podman', 'docker'], exec: none.exec })).rejects.toThrow(
      '--toolchain-image img: no container runtime found (tried podman, docker); install one',
    );
  });

  it('refuses a name that is no image name before asking any runtime', async () => {
    const { exec, calls } = fakeExec({});
    await expect(resolveToolchainImage('two words', { exec })).rejects.toThrow("--toolchain-image 'two words': not an image name");
    expect(calls).toEqual([]);
  });
});

describe('containerArgv', () => {
  const tc: ToolchainContainer = { runtime: 'podman', image: 'ih-toolchain:bullseye', imageId: 'sha256:abc' };

  it('mounts each directory at its own path, read-only where asked, and runs the exact image as the host user', () => {
    const argv = containerArgv(tc, ['make', '-C', '/src', 'O=/out', 'olddefconfig'], {
      cwd: '/src', env: { KBUILD_BUILD_USER: 'integrity-harness' }, mounts: ['/src', '/out', '/src'], readOnly: ['/repo/vm/kconfig'], uid: 1000, gid: 1001,
    });
    expect(argv).toEqual([
      'podman', 'run', '--rm', '--init', '--network', 'none', '--user', '1000:1001',
      '--volume', '/src:/src', '--volume', '/out:/out', '--volume', '/repo/vm/kconfig:/repo/vm/kconfig:ro',
      '--workdir', '/src', '--env', 'HOME=/tmp', '--env', 'KBUILD_BUILD_USER=integrity-harness',
      'sha256:abc', 'make', '-C', '/src', 'O=/out', 'olddefconfig',
    ]);
  });

  it('keeps a directory that is both written and read-only writable', () => {
    const argv = containerArgv(tc, ['true'], { cwd: '/src', mounts: ['/src'], readOnly: ['/src'], uid: 0, gid: 0 });
    expect(argv.filter((a) => a.startsWith('/src:'))).toEqual(['/src:/src']);
  });
});

describe('a toolchain image in the build key and the spec text', () => {
  it('gives a build in an image its own configuration key, and leaves host builds their keys', () => {
    const fragments = [{ name: 'base.config', text: 'CONFIG_A=y\n' }];
    const host = configKey({ fragments, makeArgs: [] });
    expect(configKey({ fragments, makeArgs: [], toolchain: 'sha256:abc' })).not.toBe(host);
    expect(configKey({ fragments, makeArgs: [], toolchain: 'sha256:abc' })).not.toBe(configKey({ fragments, makeArgs: [], toolchain: 'sha256:def' }));
    expect(configKey({ fragments, makeArgs: [] })).toBe(host);
  });

  it('reads --toolchain-image back from a recorded spec and names the kernel again with it', () => {
    const text = 'tree:/src/linux-4.13 --make-arg KCFLAGS=-w --toolchain-image ih-toolchain:bullseye';
    expect(splitKernelSpec(text)).toEqual({ base: 'tree:/src/linux-4.13', patches: [], kconfig: [], makeArgs: ['KCFLAGS=-w'], toolchainImage: 'ih-toolchain:bullseye' });
    expect(kernelArgs(text)).toEqual(['--kernel', 'tree:/src/linux-4.13', '--make-arg', 'KCFLAGS=-w', '--toolchain-image', 'ih-toolchain:bullseye']);
  });
});
