/** --kcidb, --kcidb-origin and --kcidb-url: shared by matrix, gate and report. */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { parseUrlBase } from './urls.ts';
import { DEFAULT_KCIDB_ORIGIN } from './version.ts';

export interface KcidbOutput {
  /** where the document goes */
  file: string;
  origin: string;
  /** the published run directory (--kcidb-url); default the run directory as a file:// URL */
  urlBase?: string;
}

function origin(v: string): string {
  // the schema's pattern for origins (and the part of every id before ':')
  if (!/^[a-z0-9_]+$/.test(v)) throw new InvalidArgumentError(`--kcidb-origin expects lower-case letters, digits and '_' (KCIDB's origin pattern), got '${v}'`);
  return v;
}

function urlBase(v: string): string {
  try {
    return parseUrlBase(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

export function addKcidbOptions(cmd: Command, withFile: boolean): Command {
  if (withFile) cmd.option('--kcidb <file>', 'also write the run as KCIDB I/O data (KernelCI schema v5.3) to this file');
  return cmd
    .option('--kcidb-origin <name>', `KCIDB origin: names this CI system in every id (${DEFAULT_KCIDB_ORIGIN}:...)`, origin, DEFAULT_KCIDB_ORIGIN)
    .option('--kcidb-url <url>', "where the run directory is published: KCIDB's log/config/file URLs point there (default: the run directory as file://)", urlBase);
}

/** The KCIDB output the options ask for, or undefined without --kcidb. */
export function kcidbOutput(o: { kcidb?: string; kcidbOrigin: string; kcidbUrl?: string }): KcidbOutput | undefined {
  if (o.kcidb === undefined) return undefined;
  return { file: resolve(o.kcidb), origin: o.kcidbOrigin, ...(o.kcidbUrl !== undefined ? { urlBase: o.kcidbUrl } : {}) };
}
