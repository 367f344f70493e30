// Building in a toolchain container (--toolchain-image), as TuxMake does: an old tree wants the compiler of its
// time, and a container image of the user's choice carries it without touching the host. Only the steps that
// run the toolchain (make, merge_config.sh) go into the container; unpacking, patching and the harness's own
// checks stay on the host. Source and build dir are mounted at the same paths inside, so every path kbuild
// writes (dependency files, .cmd files, the relative srctree of an in-tree build dir) means the same on both
// sides, and the build dir can be reused by a later host step (the fast rebuild, publishing).
import { execa } from 'execa';
import { KernelSpecError } from './build-errors.ts';

export interface ToolchainContainer {
  /** The program that runs containers: podman or docker. */
  runtime: string;
  /** The image as the user named it, for messages. */
  image: string;
  /** The runtime's image id: a build runs exactly this image, and the id is part of the configuration key. */
  imageId: string;
}

/** Runtimes tried in this order; IH_CONTAINER_RUNTIME names one to use instead. */
export const RUNTIMES = ['podman', 'docker'] as const;

type Exec = (file: string, args: readonly string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

const defaultExec: Exec = async (file, args) => {
  const r = await execa(file, args, { reject: false, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
};

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

/**
 * The container runtime and image id for `image`: the first runtime that is installed and answers, the image
 * pulled when the runtime does not have it. Every refusal names the option, the image and what to do.
 */
export async function resolveToolchainImage(
  image: string,
  opts: { runtimes?: readonly string[]; exec?: Exec } = {},
): Promise<ToolchainContainer> {
  const exec = opts.exec ?? defaultExec;
  const wanted = opts.runtimes ?? (process.env.IH_CONTAINER_RUNTIME ? [process.env.IH_CONTAINER_RUNTIME] : RUNTIMES);
  if (image.trim() === '' || /\s/.test(image)) throw new KernelSpecError(`--toolchain-image '${image}': not an image name`);
  const problems: string[] = [];
  for (const runtime of wanted) {
    const version = await exec(runtime, ['--version']).catch(() => undefined);
    if (version === undefined || version.exitCode !== 0) continue;
    const inspect = async () => exec(runtime, ['image', 'inspect', '--format', '{{.Id}}', image]);
    let found = await inspect();
    if (found.exitCode !== 0) {
      // "Cannot connect to the Docker daemon" and the like: the runtime is there but cannot run anything.
      const info = await exec(runtime, ['info']);
      if (info.exitCode !== 0) {
        problems.push(`${runtime} is installed but not usable (${runtime} info: ${lastLine(info.stderr || info.stdout)})`);
        continue;
      }
      const pull = await exec(runtime, ['pull', image]);
      if (pull.exitCode !== 0) {
        throw new KernelSpecError(
          `--toolchain-image ${image}: ${runtime} has no such image and could not pull it (${runtime} pull: ${lastLine(pull.stderr || pull.stdout)}); ` +
            `pull or build it first (docs/matrix.md, "Building in a toolchain container")`,
        );
      }
      found = await inspect();
      if (found.exitCode !== 0) throw new KernelSpecError(`--toolchain-image ${image}: ${runtime} pulled it but cannot inspect it (${lastLine(found.stderr)})`);
    }
    const imageId = found.stdout.trim().split('\n')[0] ?? '';
    if (imageId === '') throw new KernelSpecError(`--toolchain-image ${image}: ${runtime} image inspect printed no id`);
    return { runtime, image, imageId };
  }
  throw new KernelSpecError(
    `--toolchain-image ${image}: ${problems.length > 0 ? problems.join('; ') : `no container runtime found (tried ${wanted.join(', ')})`}; ` +
      'install one (apt-get install podman, or docker.io with its daemon running) or build without --toolchain-image',
  );
}

/**
 * The argv that runs `argv` in the toolchain container: the given directories mounted at their own paths
 * (read-only where asked), the working directory and environment passed in, files owned by the host user,
 * no network (a kernel build needs none), the container removed afterwards. `--init` puts a reaper at pid 1
 * so the SIGTERM the runtime passes on reaches make, which stops its compilers.
 */
export function containerArgv(
  tc: ToolchainContainer,
  argv: readonly string[],
  o: { cwd: string; env?: Record<string, string>; mounts: readonly string[]; readOnly?: readonly string[]; uid?: number; gid?: number },
): string[] {
  const uid = o.uid ?? process.getuid?.() ?? 0;
  const gid = o.gid ?? process.getgid?.() ?? 0;
  const ro = new Set(o.readOnly ?? []);
  const dirs = [...new Set([...o.mounts, ...ro])];
  return [
    tc.runtime, 'run', '--rm', '--init', '--network', 'none', '--user', `${uid}:${gid}`,
    ...dirs.flatMap((d) => ['--volume', `${d}:${d}${ro.has(d) && !o.mounts.includes(d) ? ':ro' : ''}`]),
    '--workdir', o.cwd,
    '--env', 'HOME=/tmp',
    ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    tc.imageId,
    ...argv,
  ];
}

/** The compiler the image runs, for the build log: `gcc --version`'s first line, or why it has none. */
export async function containerCompiler(tc: ToolchainContainer, exec: Exec = defaultExec): Promise<string> {
  const r = await exec(tc.runtime, ['run', '--rm', '--network', 'none', tc.imageId, 'gcc', '--version']);
  return r.exitCode === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : `no gcc in the image (${lastLine(r.stderr)})`;
}
