/** Writes a run's KCIDB document (atomically: a reader never sees half a file). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Summary } from '../../results.ts';
import type { Reporter } from '../../reporters/reporter.ts';
import { runToKcidb } from './document.ts';
import type { KcidbOutput } from './options.ts';
import { defaultUrlBase } from './urls.ts';

export async function kcidbText(summary: Summary, runDir: string, o: Omit<KcidbOutput, 'file'>): Promise<string> {
  const doc = await runToKcidb(summary, runDir, { origin: o.origin, urlBase: o.urlBase ?? defaultUrlBase(runDir) });
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** --kcidb on matrix and gate: the document, written when the run ends (after the exit code is known). */
export class KcidbReporter implements Reporter {
  constructor(private readonly out: KcidbOutput, private readonly log: (s: string) => void = () => undefined) {}

  async onEnd(summary: Summary, runDir: string): Promise<void> {
    await writeAtomically(this.out.file, await kcidbText(summary, runDir, this.out));
    this.log(`KCIDB: ${summary.cells.length} test(s) written to ${this.out.file}`);
  }
}
