/**
 * npm run report -- <run-dir> --format email|kcidb [--output FILE]: a finished run (or a bisection's
 * directory) as a mail a kernel developer can read, or as KCIDB I/O data for KernelCI's database.
 * Exit 0 written, 255 usage error (no such run, a summary that is not one, bad options).
 */
import { CommanderError, Command, Option } from 'commander';
import { parseCommand } from '../config.ts';
import { UsageError } from '../errors.ts';
import { composeEmail } from '../report/email/compose.ts';
import { loadReportInput } from '../report/input.ts';
import { addKcidbOptions } from '../report/kcidb/options.ts';
import { kcidbText, writeAtomically } from '../report/kcidb/write.ts';
import { runMain } from './main.ts';

async function main(argv: string[]): Promise<number> {
  const cmd = new Command('report')
    .description('Write a run as a plain-text mail report (80 columns) or as KCIDB I/O data.')
    .argument('<run-dir>', 'a run directory (results/<run-id>, results/latest) or a bisection directory (results/bisect-<id>)')
    .addOption(new Option('--format <format>', 'email: plain-text mail; kcidb: KCIDB I/O JSON (schema v5.3)').choices(['email', 'kcidb']).default('email'))
    .option('-o, --output <file>', 'write here instead of stdout');
  addKcidbOptions(cmd, false);
  try {
    parseCommand(cmd, argv);
  } catch (e) {
    if (e instanceof CommanderError) return 0; // --help
    throw e;
  }
  const o = cmd.opts<{ format: 'email' | 'kcidb'; output?: string; kcidbOrigin: string; kcidbUrl?: string }>();
  const input = await loadReportInput(cmd.args[0]!);
  let text: string;
  if (o.format === 'email') {
    text = await composeEmail(input);
  } else {
    if (input.run === undefined) throw new UsageError(`report ${cmd.args[0]}: the bisection has no failing matrix run to write as KCIDB data`);
    text = await kcidbText(input.run.summary, input.run.dir, { origin: o.kcidbOrigin, ...(o.kcidbUrl !== undefined ? { urlBase: o.kcidbUrl } : {}) });
  }
  if (o.output !== undefined) await writeAtomically(o.output, text);
  else process.stdout.write(text);
  return 0;
}

runMain('integrity-harness report', () => main(process.argv.slice(2)));
