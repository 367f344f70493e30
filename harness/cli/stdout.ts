/**
 * A reader that goes away (`npm run matrix | head`) must not kill a run half-way: results and reports are
 * written to files whatever happens to stdout.
 */
export function survivePipeClose(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
    });
  }
}
