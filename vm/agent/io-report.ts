/**
 * Typed view of ih-io's stdout (JSON lines, one per I/O that failed or was asked for, then a summary). Wire names are snake_case; this module is the one
 * place that maps them to the harness's camelCase.
 */
import { z } from 'zod';
import { InfraError } from '../../harness/errors.ts';

const n = z.number().int().nonnegative();
const failure = { ok: z.boolean(), errno: n, error: z.string().optional() };

const ioLine = z.object({ op: z.enum(['read', 'write']), off: n, len: n, us: n, bad_blocks: n.optional(), ...failure });
const blockLine = z.object({ op: z.literal('block'), off: n, len: n, us: n, ...failure });
const simpleLine = z.object({ op: z.enum(['discard', 'flush', 'fsync']), off: n.optional(), len: n.optional(), ...failure });
const setupLine = z.object({ op: z.literal('setup'), what: z.string(), path: z.string(), ...failure, ok: z.literal(false) });
const infoLine = z.object({
  op: z.literal('info'),
  path: z.string(),
  block_device: z.boolean(),
  size: n,
  logical_block_size: n,
  physical_block_size: n,
  read_only: z.boolean(),
});
const summaryLine = z.object({
  op: z.literal('summary'),
  cmd: z.enum(['read', 'copy', 'zero']),
  ok: z.boolean(),
  bytes: n,
  bytes_ok: n,
  ios: n,
  failed_ios: n,
  failed_blocks: n,
  bs: n,
  block: n,
  workers: n,
  mode: z.enum(['threads', 'procs']),
  direct: z.boolean(),
  elapsed_us: n,
});
const line = z.discriminatedUnion('op', [ioLine, blockLine, simpleLine, setupLine, infoLine, summaryLine]);

/** One I/O (read or write) or one failing block; `errno` is 0 and `error` "EOF" for a short read. */
export interface IoEvent {
  op: 'read' | 'write' | 'block';
  /** Byte offset on the device the I/O went to: the source for read/block, the destination for write. */
  off: number;
  len: number;
  ok: boolean;
  errno: number;
  /** Symbolic errno ("EILSEQ", "EIO", "EOF"), present when !ok. */
  error?: string;
  us: number;
  /** Read I/Os that failed: how many of their blocks failed when re-read one by one. */
  badBlocks?: number;
}

/** discard, flush, and the final fsync of copy/zero --fsync. */
export interface IoResult {
  op: 'discard' | 'flush' | 'fsync';
  ok: boolean;
  errno: number;
  error?: string;
}

/** ih-io could not start (exit 3): which call failed on which path, with errno. */
export interface IoSetupError {
  op: 'setup';
  ok: false;
  what: string;
  path: string;
  errno: number;
  error?: string;
}

export interface IoInfo {
  op: 'info';
  path: string;
  blockDevice: boolean;
  size: number;
  logicalBlockSize: number;
  physicalBlockSize: number;
  readOnly: boolean;
}

export interface IoSummary {
  op: 'summary';
  cmd: 'read' | 'copy' | 'zero';
  ok: boolean;
  bytes: number;
  bytesOk: number;
  ios: number;
  failedIos: number;
  failedBlocks: number;
  bs: number;
  block: number;
  workers: number;
  mode: 'threads' | 'procs';
  direct: boolean;
  elapsedUs: number;
}

/** One line of ih-io's output. Failing block lines follow the line of the read I/O they belong to. */
export type IoLine = IoEvent | IoResult | IoSetupError | IoInfo | IoSummary;

export class IoReportError extends InfraError {
  override name = 'IoReportError';
}

/** ih-io's stdout, sorted by kind. `lines` keeps everything in output order. */
export interface IoReport {
  /** read/write I/Os: the failed ones always, all of them with --log-ok. */
  ios: IoEvent[];
  /** Failing blocks found by re-reading failed reads block by block. */
  blocks: IoEvent[];
  results: IoResult[];
  info?: IoInfo;
  setupError?: IoSetupError;
  summary?: IoSummary;
  lines: IoLine[];
}

/** Parse ih-io's JSON lines. Throws IoReportError on anything that is not a known line. */
export function parseIoReport(stdout: Buffer | string): IoReport {
  const report: IoReport = { ios: [], blocks: [], results: [], lines: [] };
  stdout
    .toString('utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      const l = toLine(parseLine(text, i + 1));
      report.lines.push(l);
      if (l.op === 'read' || l.op === 'write') report.ios.push(l as IoEvent);
      else if (l.op === 'block') report.blocks.push(l as IoEvent);
      else if (l.op === 'discard' || l.op === 'flush' || l.op === 'fsync') report.results.push(l as IoResult);
      else if (l.op === 'info') report.info = l;
      else if (l.op === 'setup') report.setupError = l;
      else if (l.op === 'summary') report.summary = l;
    });
  return report;
}

function parseLine(text: string, lineNo: number): z.infer<typeof line> {
  return parseReportLine(line, text, lineNo, 'ih-io');
}

/**
 * One line of an ih-io subcommand's JSON output read by that subcommand's line schema. Throws IoReportError
 * naming the program (`ih-io`, `ih-io race`, ...), the line and its start when it is not JSON or not a known line.
 */
export function parseReportLine<S extends z.ZodType>(schema: S, text: string, lineNo: number, program: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new IoReportError(`${program} output line ${lineNo} is not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new IoReportError(`${program} output line ${lineNo} has an unexpected shape: ${text.slice(0, 200)}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function withError<T extends object>(base: T, error: string | undefined): T & { error?: string } {
  return error === undefined ? base : { ...base, error };
}

function toLine(l: z.infer<typeof line>): IoLine {
  switch (l.op) {
    case 'read':
    case 'write':
    case 'block': {
      const ev: IoEvent = withError({ op: l.op, off: l.off, len: l.len, ok: l.ok, errno: l.errno, us: l.us }, l.error);
      if ('bad_blocks' in l && l.bad_blocks !== undefined) ev.badBlocks = l.bad_blocks;
      return ev;
    }
    case 'discard':
    case 'flush':
    case 'fsync':
      return withError({ op: l.op, ok: l.ok, errno: l.errno }, l.error);
    case 'setup':
      return withError({ op: l.op, ok: false as const, what: l.what, path: l.path, errno: l.errno }, l.error);
    case 'info':
      return {
        op: l.op,
        path: l.path,
        blockDevice: l.block_device,
        size: l.size,
        logicalBlockSize: l.logical_block_size,
        physicalBlockSize: l.physical_block_size,
        readOnly: l.read_only,
      };
    case 'summary':
      return {
        op: l.op,
        cmd: l.cmd,
        ok: l.ok,
        bytes: l.bytes,
        bytesOk: l.bytes_ok,
        ios: l.ios,
        failedIos: l.failed_ios,
        failedBlocks: l.failed_blocks,
        bs: l.bs,
        block: l.block,
        workers: l.workers,
        mode: l.mode,
        direct: l.direct,
        elapsedUs: l.elapsed_us,
      };
  }
}
