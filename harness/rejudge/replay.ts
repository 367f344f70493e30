/**
 * A stored execution played back: the guest answers every command as it answered in the run, and the host's
 * image reads return what the run saw (observations.jsonl, written by harness/run/session/cell.ts and host-images.ts).
 * The cell's own code runs on top of it unchanged, with the current model judging, so whatever judgement
 * changed since the run shows, and nothing else can. When the current code asks for something the run never
 * did (another command, a read elsewhere, bytes the run did not keep), the replay stops: NotReplayable.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentClosedError, AgentTimeoutError, type ExecResult } from '../../vm/agent/client.ts';
import { GuestSession } from '../run/session/cell.ts';
import { sha256, type HostImages, type HostWork, type HostWorkKind } from '../run/session/host-images.ts';
import type { Observation, ObservationHeader, ObservedBlock } from '../run/session/observations.ts';

/** The current code departs from what the run recorded: its judgement of the run cannot be replayed. */
export class NotReplayable extends Error {
  override name = 'NotReplayable';
}

export interface StoredObservations {
  header: ObservationHeader;
  records: Observation[];
}

export async function loadObservations(file: string): Promise<StoredObservations> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l) as Observation | ObservationHeader;
    } catch (e) {
      throw new NotReplayable(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
  });
  const [header, ...records] = parsed;
  if (header === undefined || header.t !== 'header' || header.version !== 1) throw new NotReplayable(`${file}: no version 1 header on its first line`);
  return { header, records: records as Observation[] };
}

type Kind = Observation['t'];

/** Walks the records in the order the cell made them; each request must be the next record of its kind. */
export class ObservationCursor {
  private at = 0;
  constructor(private readonly records: readonly Observation[]) {}

  next<K extends Exclude<Kind, 'begin'>>(kind: K, what: string): Extract<Observation, { t: K }> {
    while (this.records[this.at]?.t === 'begin') this.at++;
    const r = this.records[this.at];
    if (r === undefined) throw new NotReplayable(`the current code ${what} after everything the run recorded`);
    if (r.t !== kind) throw new NotReplayable(`step ${r.step}: the current code ${what} where the run recorded ${describe(r)}`);
    this.at++;
    return r as Extract<Observation, { t: K }>;
  }

  /** The next record the replay would consume, without consuming it. */
  peek(): Observation | undefined {
    while (this.records[this.at]?.t === 'begin') this.at++;
    return this.records[this.at];
  }

  /** Records the replay did not consume: the run went on where the current code stopped. */
  rest(): Observation[] {
    return this.records.slice(this.at).filter((r) => r.t !== 'begin');
  }
}

export function describe(r: Observation): string {
  switch (r.t) {
    case 'cmd': return `'${r.argv.join(' ')}'`;
    case 'image-read': return `a read of ${r.image} at ${r.offset}+${r.length}`;
    case 'image-write': return `a write of ${r.image} at ${r.offset}+${r.length}`;
    case 'blocks': return `the read-back of ${r.image} at ${r.offset}`;
    case 'image-audit': return `the audit of ${r.image}`;
    case 'crash-base': return `step ${r.step}'s data disk before its crash workload`;
    case 'crash-log': return `step ${r.step}'s crash log (${r.points.length} crash points)`;
    case 'crash-readback': return `the read-back at ${r.where}`;
    case 'crash-audit': return `the raw-disk audit at ${r.where}`;
    default: return `step ${r.step} ${r.kind}`;
  }
}

/** The guest of a replay: the agent's answers, in order. */
export class ReplayGuest {
  state: 'running' | 'exited' = 'running';
  constructor(private readonly cursor: ObservationCursor) {}

  async exec(argv: string[], opts: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const what = `runs '${argv.join(' ')}'`;
    const r = this.cursor.next('cmd', what);
    if (JSON.stringify(r.argv) !== JSON.stringify(argv)) throw new NotReplayable(`step ${r.step}: the current code ${what} where the run ran '${r.argv.join(' ')}'`);
    if ((r.stdinHex ?? '') !== (opts.stdin?.toString('hex') ?? '')) throw new NotReplayable(`step ${r.step}: '${argv.join(' ')}' gets other input than in the run`);
    if (r.failed?.kind === 'timeout') throw new AgentTimeoutError(argv.join(' '), opts.timeoutMs ?? 0);
    if (r.failed?.kind === 'closed') throw new AgentClosedError(r.failed.message);
    if (r.failed !== undefined) throw new Error(r.failed.message);
    return {
      argv, exitCode: r.exitCode, signal: r.signal, stdout: r.stdoutHex !== undefined ? Buffer.from(r.stdoutHex, 'hex') : Buffer.from(r.stdout), stderr: Buffer.from(r.stderr),
      durationMs: r.durationMs, timedOut: r.timedOut ?? false, reaped: true, execErrno: null, stdoutTruncated: false, stderrTruncated: false,
    };
  }

  async mark(): Promise<void> {}

  async hostFault(): Promise<string | undefined> {
    return undefined;
  }
}

/**
 * The host images of a replay: small reads give back the bytes the run kept; a read-back gives the blocks
 * as observed; writes change nothing (the run made them). The audit needs the images themselves, which a
 * run keeps with --keep-disks or when the cell did not pass (`keptDir`).
 */
export class ReplayImages implements HostImages {
  constructor(
    private readonly cursor: ObservationCursor,
    private readonly roles: ReadonlyMap<string, string>,
    private readonly keptDir: string,
  ) {}

  private name(path: string): string {
    for (const [role, p] of this.roles) if (p === path) return role;
    throw new NotReplayable(`the current code reads ${path}, which is none of the cell's disks`);
  }

  async readAt(path: string, offset: number, length: number): Promise<Buffer> {
    const image = this.name(path);
    const r = this.cursor.next('image-read', `reads ${image} at ${offset}+${length}`);
    if (r.image !== image || r.offset !== offset || r.length !== length) {
      throw new NotReplayable(`step ${r.step}: the current code reads ${image} at ${offset}+${length} where the run read ${r.image} at ${r.offset}+${r.length}`);
    }
    if (r.hex !== undefined) return Buffer.from(r.hex, 'hex');
    throw new NotReplayable(`step ${r.step}: the run kept only the digest of ${image} at ${offset}+${length}`);
  }

  async writeAt(path: string, offset: number, data: Buffer): Promise<void> {
    const image = this.name(path);
    const r = this.cursor.next('image-write', `writes ${image} at ${offset}+${data.length}`);
    if (r.image !== image || r.offset !== offset || r.length !== data.length || r.sha256 !== sha256(data)) {
      throw new NotReplayable(`step ${r.step}: the current code writes ${image} at ${offset}+${data.length} other bytes or elsewhere than the run (${r.image} at ${r.offset}+${r.length})`);
    }
  }

  async readBlocks(path: string, offset: number, length: number, blockSize: number): Promise<ObservedBlock[]> {
    const image = this.name(path);
    const r = this.cursor.next('blocks', `reads back ${image} at ${offset}`);
    if (r.image !== image || r.offset !== offset || r.blockSize !== blockSize || r.blocks.length !== Math.ceil(length / blockSize)) {
      throw new NotReplayable(`step ${r.step}: the current code reads back ${length} bytes of ${image} at ${offset} where the run read ${r.blocks.length} blocks at ${r.offset}`);
    }
    return r.blocks;
  }

  async wholeImage(path: string): Promise<string> {
    const image = this.name(path);
    const r = this.cursor.next('image-audit', `audits ${image}`);
    const kept = join(this.keptDir, `${image}.img`);
    if (r.image !== image || !existsSync(kept)) {
      throw new NotReplayable(`step ${r.step}: the raw-disk audit of ${image} needs the image, which the run did not keep (--keep-disks keeps it)`);
    }
    return kept;
  }

  async hostWork<K extends HostWorkKind>(t: K, _work: () => Promise<HostWork<K>>): Promise<HostWork<K>> {
    const ahead = this.cursor.peek();
    if (t === 'crash-readback' && ahead?.t === 'blocks') {
      throw new NotReplayable(`step ${ahead.step}: the run recorded a crash point's read-back block by block (\`blocks\` records, from before crash read-backs were recorded as versions); the current code replays only \`crash-readback\` records: run the scenario again`);
    }
    const r = this.cursor.next(t, `needs the host's ${t} (${HOST_WORK[t]})`) as Observation;
    const { t: _t, step: _step, ...seen } = r;
    return seen as unknown as HostWork<K>;
  }
}

/** What each kind of host work is, for the replay's messages. */
const HOST_WORK: Record<HostWorkKind, string> = {
  'crash-base': 'the data disk before a crash workload',
  'crash-log': "a crash step's log and its crash points",
  'crash-readback': "a crash point's read-back as versions of each block",
  'crash-audit': 'the raw-disk audit at a crash point',
};

/** A GuestSession whose guest and images are the replay's (the cell code cannot tell). */
export class ReplaySession extends GuestSession {
  constructor(guest: ReplayGuest, private readonly replayImages: ReplayImages, stepTimeoutMs: number, scratchStepLog: string, disks?: ReadonlyMap<string, string>) {
    super(guest as unknown as ConstructorParameters<typeof GuestSession>[0], stepTimeoutMs, scratchStepLog, disks);
    this.images = replayImages;
  }

  override startObserving(...args: Parameters<GuestSession['startObserving']>): void {
    super.startObserving(...args);
    this.images = this.replayImages;
  }
}
