/**
 * The model's one error: the input it was given (an image, a superblock, parameters) cannot be what the
 * caller says it is. `source` names what the user controls (an image path, a scenario field) so the CLI and
 * the runner can print one line that points at it. Bugs in the kernel under test are never errors here:
 * they are disagreements, returned as data.
 */
export class ModelInputError extends Error {
  override name = 'ModelInputError';
  readonly source: string | undefined;
  constructor(message: string, options?: { source?: string; cause?: unknown }) {
    super(options?.source ? `${options.source}: ${message}` : message, { cause: options?.cause });
    this.source = options?.source;
  }
}

/** Throws ModelInputError unless `value` is a non-negative safe integer. */
export function assertUint(value: number, what: string, source?: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ModelInputError(`${what} must be a non-negative integer, got ${value}`, { source });
  }
}
