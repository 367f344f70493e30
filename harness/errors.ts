/**
 * Error classes that decide exit codes and verdicts. A UsageError is the user's to fix (bad argument,
 * malformed scenario, unknown kernel): exit 255. An InfraError is the harness or host failing (a tool
 * crashed, QEMU died without a kernel message): verdict `error`, never blamed on the kernel.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class InfraError extends Error {
  override name = 'InfraError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Last lines of a (possibly long) command output, for error messages. */
export function tail(text: string | Buffer | undefined, lines = 15): string {
  if (text === undefined) return '';
  const all = text.toString().trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}
