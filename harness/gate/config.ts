/** `npm run gate` options: --base and --candidate name kernels as --kernel does; the rest are the matrix's run options. */
import { join } from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../../vm/cache.ts';
import type { KernelSpec } from '../../vm/kernel/spec.ts';
import { addRunOptions, parseCommand, runConfig, type MatrixConfig, type RunOptionValues } from '../config.ts';
import { bindFlaggedKernels, KernelOptionRecorder } from '../kernel-options.ts';
import { distinctSpecs } from './sides.ts';

export interface GateConfig {
  /** the matrix of the run: kernels [base, candidate] (texts distinct), the scenarios, how cells run */
  matrix: Readonly<MatrixConfig>;
  base: KernelSpec;
  candidate: KernelSpec;
  /** run the format-compatibility pass */
  compat: boolean;
  /** which compatibility stacks (globs over compat/<stack>); empty: all */
  compatGlobs: string[];
  /** where the compatibility scenarios live (their ids are compat/<stack>) */
  compatDir: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export const GATE_HELP = `
Each --patch, --kconfig and --make-arg applies to the --base or --candidate given just before it (before
either: to both, when built from source). Exit code: 1 if any cell passes on base and fails, crashes or
hangs on the candidate, or any compatibility cell fails; else 125 if something could not be judged (a
kernel did not build, an infrastructure error where base passed, nothing compared); else 0.
Examples:
  --base src:6.1 --candidate src:6.1 --patch fix.patch
  --base tree:/src/linux@v6.6 --candidate tree:/src/linux@HEAD --scenario 'crypt/*'
  --base 6.1 --candidate /path/to/bzImage --no-compat
`;

export function parseGateArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Readonly<GateConfig> {
  const kernels = new KernelOptionRecorder();
  const cmd = new Command('gate')
    .description('Run the same cells on a base and a candidate kernel; fail on any regression (passes on base, not on the candidate) '
      + 'and on any format incompatibility (disks written by one kernel, read by the other).');
  kernels.addKernelFlag(cmd, 'base', 'the reference kernel (any --kernel spec: 6.1, deb:<package>, /path/to/bzImage, src:<version>, tree:<path>[@<ref>])');
  kernels.addKernelFlag(cmd, 'candidate', 'the kernel under test (same forms as --base)');
  kernels.addBuildOptionsTo(cmd);
  addRunOptions(cmd)
    .option('--no-compat', 'skip the format-compatibility pass')
    .option('--compat-stack <glob>', 'only these compatibility stacks (e.g. "compat/luks2-*"; repeatable)', collect, [])
    .addHelpText('after', GATE_HELP);
  parseCommand(cmd, argv);
  const o = cmd.opts<RunOptionValues & { compat: boolean; compatStack: string[] }>();
  const sides = bindFlaggedKernels(kernels.events, ['base', 'candidate']);
  const { base, candidate } = distinctSpecs(sides.get('base')!, sides.get('candidate')!);
  // the matrix's kernels are base and candidate as the run options made them (--coverage builds both with gcov)
  const matrix = runConfig(o, [base, candidate], env);
  return Object.freeze({
    matrix,
    base: matrix.kernels[0]!, candidate: matrix.kernels[1]!,
    compat: o.compat,
    compatGlobs: o.compatStack,
    compatDir: join(repoRoot(), 'harness', 'gate'),
  });
}
