/**
 * How every run-producing command (matrix, gate, merge) starts and ends. Start: temporary files go at exit,
 * and a reader that closes stdout early does not kill the run. End: its exit code, or for an error that
 * escaped it, one message and the interface's code: a usage error (the user's input) 255, anything else 125
 * (could not judge), so `git bisect run` skips rather than blames. Only an unexpected error carries its stack.
 */
import tmp from 'tmp';
import { InfraError, UsageError } from '../errors.ts';
import { EXIT_ABORT } from '../verdict/exit-code.ts';
import { survivePipeClose } from './stdout.ts';

export function runMain(name: string, main: () => Promise<number>): void {
  tmp.setGracefulCleanup();
  survivePipeClose();
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${name}: ${e.message}\n`);
        process.exit(EXIT_ABORT);
      }
      const msg = e instanceof InfraError ? e.message : ((e as Error).stack ?? String(e));
      process.stderr.write(`${name}: infrastructure error: ${msg}\n`);
      process.exit(125);
    },
  );
}
