// Runs one build step (make, merge_config.sh, tar, git, patch) with its output appended to the build
// log, streamed to onLog, and the last lines kept for the error message.
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import { childCpuMs } from './child-cpu.ts';

export const LOG_TAIL_LINES = 30;

export class BuildLog {
  private readonly stream: WriteStream;
  private readonly tail: string[] = [];

  constructor(
    readonly file: string,
    private readonly onLog?: (line: string) => void,
  ) {
    this.stream = createWriteStream(file, { flags: 'a' });
  }

  line(text: string): void {
    this.stream.write(`${text}\n`);
    this.tail.push(text);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
    this.onLog?.(text);
  }

  lastLines(): string[] {
    return [...this.tail];
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(resolve));
  }
}

export interface StepResult {
  exitCode: number;
  output: string[];
  /** CPU (user + sys) of the processes reaped meanwhile: this step's, unless other steps ran alongside. */
  cpuMs: number;
}

type Child = ReturnType<typeof execa>;

/** Build steps running now (make above all): a signal handler stops them before removing their tree. */
const live = new Set<Child>();

/** How many build steps (make, patch, ...) are running in this process. */
export function liveBuildSteps(): number {
  return live.size;
}

/**
 * Stops every running build step and resolves once each has exited: SIGTERM (make passes it to the
 * compilers it started and waits for them), then SIGKILL after `graceMs`. Whoever removes a build tree calls
 * this first, so no make writes into a directory being removed.
 */
export async function stopBuildSteps(graceMs = 10_000): Promise<void> {
  await Promise.all([...live].map(async (child) => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await child.catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }));
}

// Never throws for a non-zero exit: the caller knows what a failure of this step means.
export async function runStep(
  log: BuildLog,
  argv: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<StepResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runStep: empty argv');
  log.line(`$ ${argv.join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}`);
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    stdin: 'ignore',
    buffer: false,
    // stopBuildSteps decides when a make that ignores SIGTERM is killed (make needs the time to stop its compilers)
    forceKillAfterDelay: false,
  });
  const output: string[] = [];
  const pump = (stream: Readable | null) =>
    stream
      ? new Promise<void>((resolve) => {
          const rl = createInterface({ input: stream, crlfDelay: Infinity });
          rl.on('line', (line) => {
            output.push(line);
            log.line(line);
          });
          rl.on('close', resolve);
        })
      : Promise.resolve();
  const started = Date.now();
  const cpuBefore = childCpuMs();
  live.add(child);
  const [result] = await Promise.all([child, pump(child.stdout), pump(child.stderr)]).finally(() => live.delete(child));
  const exitCode = result.exitCode ?? (result.failed ? 1 : 0);
  if (result.failed && result.exitCode === undefined) log.line(`(${result.shortMessage})`);
  const cpuMs = childCpuMs() - cpuBefore;
  log.line(`# exit ${exitCode} after ${((Date.now() - started) / 1000).toFixed(1)} s, cpu ${(cpuMs / 1000).toFixed(1)} s`);
  return { exitCode, output, cpuMs };
}
