// Download progress: on a terminal one line per file, redrawn in place; elsewhere (CI, logs) one line per
// file when it is done, so a log holds no carriage-return noise.

export interface FileProgress {
  /** Bytes on disk so far (a resumed download starts above zero). */
  update(bytes: number, total: number | undefined): void;
  done(bytes: number, resumedFrom: number): void;
}

export type ProgressFactory = (name: string, url: string) => FileProgress;

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

export function progressTo(stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr): ProgressFactory {
  return (name, url) => {
    let last = 0;
    return {
      update(bytes, total) {
        if (stream.isTTY !== true) return;
        const now = Date.now();
        if (now - last < 200) return;
        last = now;
        const pct = total !== undefined && total > 0 ? ` ${Math.floor((bytes * 100) / total)}%` : '';
        stream.write(`\r\x1b[2Kdownloading ${name}: ${mib(bytes)}${total !== undefined ? ` of ${mib(total)}` : ''}${pct}`);
      },
      done(bytes, resumedFrom) {
        const resumed = resumedFrom > 0 ? `, resumed at ${mib(resumedFrom)}` : '';
        stream.write(`${stream.isTTY === true ? '\r\x1b[2K' : ''}downloaded ${name} (${mib(bytes)} from ${url}${resumed})\n`);
      },
    };
  };
}

/** For callers that want no output (unit tests, small index files). */
export const silentProgress: ProgressFactory = () => ({ update() {}, done() {} });
