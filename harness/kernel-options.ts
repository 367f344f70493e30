import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import {
  isSourceSpec,
  noBuildOptions,
  parseKernelSpec,
  withBuildOptions,
  type KernelBuildOptions,
  type KernelSpec,
} from '../vm/kernel/spec.ts';
import { UsageError } from './errors.ts';

/** The rule, as --help states it: build options bind to the --kernel before them, or to every source kernel. */
export const KERNEL_OPTIONS_RULE =
  '--patch, --kconfig, --make-arg and --toolchain-image apply to the --kernel given just before them; given before any ' +
  '--kernel they apply to every kernel built from source (src:, tree:). Patches apply in the order given, run-wide ones first.';

type KernelOption = 'kernel' | 'patch' | 'kconfig' | 'make-arg' | 'toolchain-image';

export interface KernelOptionEvent {
  option: KernelOption;
  value: string;
  /** Kernel events: the flag that gave it, when not --kernel (the gate's --base, --candidate). */
  flag?: string;
}

/**
 * Records --kernel, --patch, --kconfig and --make-arg in command-line order: commander keeps each option's
 * values apart, but which kernel a patch belongs to depends on where it stands relative to the --kernel options.
 */
export class KernelOptionRecorder {
  readonly events: KernelOptionEvent[] = [];

  private collect(option: KernelOption, flag?: string) {
    return (value: string, previous: string[] = []): string[] => {
      this.events.push({ option, value, ...(flag !== undefined ? { flag } : {}) });
      return [...previous, value];
    };
  }

  /** A flag that names a kernel the way --kernel does (the gate's --base and --candidate): build options bind to it. */
  addKernelFlag(cmd: Command, flag: string, description: string): Command {
    return cmd.option(`--${flag} <spec>`, description, this.collect('kernel', flag));
  }

  /** --patch, --kconfig and --make-arg, recorded in command-line order with the kernel flags. */
  addBuildOptionsTo(cmd: Command): Command {
    return cmd
      .option('--patch <file>', 'patch (-p1) applied before building a src:/tree: kernel (repeatable; see below)', this.collect('patch'))
      .option('--kconfig <fragment>', 'Kconfig fragment merged after the harness\'s own, e.g. KASAN (repeatable)', this.collect('kconfig'))
      .option('--make-arg <arg>', 'argument passed to every make of the build, e.g. CC=gcc-10 (repeatable)', this.collect('make-arg'))
      .option(
        '--toolchain-image <image>',
        'run the build\'s make in this container image (podman or docker; pulled if missing), e.g. an older Debian with the GCC of an old tree\'s time (docs/matrix.md)',
        this.collect('toolchain-image'),
      );
  }

  /** Adds the kernel options to a command; `defaultKernel` is what runs when no --kernel is given. */
  addTo(cmd: Command, defaultKernel: string): Command {
    cmd
      .addHelpText(
        'after',
        `\nKernels built from source (src:, tree:):\n${wrap(KERNEL_OPTIONS_RULE, 100, '  ')}\n` +
          '  A patch that does not apply, or a kernel that does not build, skips that kernel\'s cells (see its build log).\n' +
          'Examples:\n' +
          '  --kernel src:6.1 --kernel src:6.1 --patch fix.patch     the same source without and with fix.patch\n' +
          '  --patch kasan-off.patch --kernel tree:/src/linux@v6.1 --kernel tree:/src/linux@v6.2   one patch on both trees\n' +
          '  --kernel tree:/src/linux --kconfig kasan.config --make-arg CC=gcc-12\n',
      )
      .option(
        '-k, --kernel <spec>',
        `kernel (repeatable): 6.1, 6.12, deb:<package>, /path/to/bzImage, src:<version> (builds Debian's ` +
          `linux-source-<version>), tree:<path>[@<ref>] (builds that git tree, at <ref> in a separate worktree). ` +
          `Default: ${defaultKernel}`,
        this.collect('kernel'),
      );
    return this.addBuildOptionsTo(cmd);
  }

  /** The kernels of the run, with their build options bound by KERNEL_OPTIONS_RULE. */
  kernels(defaultKernel: string): KernelSpec[] {
    return bindKernelOptions(this.events, defaultKernel);
  }
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(indent + line);
  return lines.join('\n');
}

const FLAG: Record<Exclude<KernelOption, 'kernel' | 'toolchain-image'>, 'patches' | 'kconfig' | 'makeArgs'> = {
  patch: 'patches',
  kconfig: 'kconfig',
  'make-arg': 'makeArgs',
};

/** The kernel's own --toolchain-image, else the run-wide one, as a build option (none: absent). */
function imageOf(own: KernelBuildOptions, runWide: KernelBuildOptions): Pick<KernelBuildOptions, 'toolchainImage'> {
  const image = own.toolchainImage ?? runWide.toolchainImage;
  return image !== undefined ? { toolchainImage: image } : {};
}

/** A missing patch or fragment is the user's to fix before anything is built. */
function assertReadable(option: KernelOption, value: string): void {
  if (option === 'make-arg' || option === 'toolchain-image') return;
  if (!existsSync(value) || !statSync(value).isFile()) throw new UsageError(`--${option} ${value}: no such file`);
}

/** Pure core of KernelOptionRecorder.kernels, for tests. */
export function bindKernelOptions(events: readonly KernelOptionEvent[], defaultKernel: string): KernelSpec[] {
  const runWide = noBuildOptions();
  const groups: Array<{ spec: KernelSpec; own: KernelBuildOptions; flag: string }> = [];
  for (const { option, value, flag } of events) {
    if (option === 'kernel') {
      groups.push({ spec: parseKernelSpec(value), own: noBuildOptions(), flag: flag ?? 'kernel' });
      continue;
    }
    if (value.trim() === '') throw new UsageError(`--${option}: empty value`);
    const target = groups.at(-1);
    if (target !== undefined && !isSourceSpec(target.spec)) {
      throw new UsageError(
        `--${option} ${value} follows --${target.flag} ${target.spec.text}, which is not built here; ` +
          'build options apply to src:<version> and tree:<path> kernels',
      );
    }
    assertReadable(option, value);
    const into = target?.own ?? runWide;
    if (option === 'toolchain-image') {
      if (into.toolchainImage !== undefined) {
        throw new UsageError(`--toolchain-image is given twice for ${target !== undefined ? `--${target.flag} ${target.spec.text}` : 'every source kernel'} (${into.toolchainImage}, ${value}); give it once`);
      }
      into.toolchainImage = value;
    } else {
      into[FLAG[option]].push(value);
    }
  }
  const hasRunWide = runWide.patches.length + runWide.kconfig.length + runWide.makeArgs.length > 0 || runWide.toolchainImage !== undefined;
  if (groups.length === 0) {
    const spec = parseKernelSpec(defaultKernel);
    if (hasRunWide && !isSourceSpec(spec)) {
      throw new UsageError(
        `--patch, --kconfig and --make-arg need a kernel built from source (e.g. --kernel src:6.1 or tree:<path>); ` +
          `the default kernel ${defaultKernel} is a prebuilt package`,
      );
    }
    groups.push({ spec, own: noBuildOptions(), flag: 'kernel' });
  }
  if (hasRunWide && !groups.some((g) => isSourceSpec(g.spec))) {
    throw new UsageError('--patch, --kconfig and --make-arg given, but no --kernel src:<version> or tree:<path> to build');
  }
  const specs = groups.map(({ spec, own }) =>
    isSourceSpec(spec)
      ? withBuildOptions(spec, {
          patches: [...runWide.patches, ...own.patches],
          kconfig: [...runWide.kconfig, ...own.kconfig],
          makeArgs: [...runWide.makeArgs, ...own.makeArgs],
          ...imageOf(own, runWide),
        })
      : spec,
  );
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.text)) throw new UsageError(`--kernel ${spec.text} is given twice`);
    seen.add(spec.text);
  }
  return specs;
}

/**
 * The kernel each of `flags` names (the gate's --base and --candidate), each with the build options bound to
 * it by KERNEL_OPTIONS_RULE. Each flag must be given once; the two may name the same kernel.
 */
export function bindFlaggedKernels(events: readonly KernelOptionEvent[], flags: readonly string[]): Map<string, KernelSpec> {
  const firstKernel = events.findIndex((e) => e.option === 'kernel');
  const runWide = firstKernel < 0 ? [...events] : events.slice(0, firstKernel);
  const out = new Map<string, KernelSpec>();
  for (const flag of flags) {
    const starts = events.flatMap((e, i) => (e.option === 'kernel' && (e.flag ?? 'kernel') === flag ? [i] : []));
    if (starts.length === 0) throw new UsageError(`--${flag} <kernel> is required`);
    if (starts.length > 1) throw new UsageError(`--${flag} is given ${starts.length} times; give it once`);
    const start = starts[0]!;
    const next = events.findIndex((e, i) => i > start && e.option === 'kernel');
    const own = events.slice(start, next < 0 ? undefined : next);
    // options given before any kernel flag go to the kernels built from source, as with --kernel
    const wide = isSourceSpec(parseKernelSpec(own[0]!.value)) ? runWide : [];
    out.set(flag, bindKernelOptions([...wide, ...own], own[0]!.value)[0]!);
  }
  if (runWide.length > 0 && ![...out.values()].some(isSourceSpec)) {
    throw new UsageError(`--patch, --kconfig and --make-arg given, but neither ${flags.map((f) => `--${f}`).join(' nor ')} is built from source (src:<version>, tree:<path>)`);
  }
  return out;
}
