/** What the harness saw: the steps it recorded and its observations. Shared by the runner, the replay and reporters. */
import type { CommandExpectation, HostOp } from '../../repro/types.ts';
import type { Disagreement, Outcome } from '../../verdict/types.ts';

export interface StepRecord {
  index: number;
  /** "write", "read", "corrupt", "open", "close", "status", "setup", "teardown". */
  kind: string;
  /** `cached`: not run again, the answer this shared guest gave to the same command earlier */
  commands: Array<{
    argv: string[]; exitCode: number | null; durationMs: number; stderrTail?: string; cached?: boolean;
    /** its stdin in hex (key files, dm tables), so a reproducer can give it the same */
    stdinHex?: string;
    /** the model requires exit 0 (GuestSession.must) */
    must?: boolean;
  }>;
  durationMs: number;
  /** Host wall time from the step's begin to its end: guest commands plus the host's own work (model, images). */
  wallMs?: number;
  note?: string;
  /** Blocks (top-device indices) whose reads the kernel failed in this step, with the errno it gave. */
  failedBlocks?: Array<{ block: number; errno: number }>;
  /** disk name -> guest device (the step that mapped them), so a reproducer can name its own */
  disks?: Record<string, string>;
  /** what the host did to the raw images in this step (corruptions), with the stack closed */
  hostOps?: HostOp[];
  /** the model's answer for the commands of this step that it judges */
  expect?: CommandExpectation[];
}

export interface CellResult extends Outcome {
  kernelRelease?: string;
  steps: StepRecord[];
  disagreements: Disagreement[];
}

/**
 * One line of a cell's observations.jsonl: what the guest and the host images showed, in the order the cell
 * saw it, apart from any judgement (harness/rejudge/ replays it against the current model). Bytes are kept
 * where they are small (superblocks, headers, single bytes) or where a read block differs from what the
 * model expected when it ran; everything else is kept as a sha256.
 */
export type Observation =
  | { t: 'begin'; step: number; kind: string }
  | {
      t: 'cmd'; step: number; argv: string[]; stdinHex?: string; exitCode: number | null; signal: string | null;
      durationMs: number; timedOut?: boolean; stdout: string; stderr: string; cached?: boolean;
      /** stdout's bytes, where they are not UTF-8 text that `stdout` would keep (a `dd` of a device); `stdout` is then '' */
      stdoutHex?: string;
      /** the agent failed instead of answering: how (the cell's end follows from it) */
      failed?: { kind: 'timeout' | 'closed' | 'other'; message: string };
    }
  | { t: 'image-read'; step: number; image: string; offset: number; length: number; sha256: string; hex?: string }
  | { t: 'image-write'; step: number; image: string; offset: number; length: number; sha256: string }
  | { t: 'blocks'; step: number; image: string; offset: number; blockSize: number; blocks: ObservedBlock[] }
  /** the whole image went to the raw-disk audit (its findings are the step's disagreements) */
  | { t: 'image-audit'; step: number; image: string }
  /** a crash step's data disk before its workload, which the run does not keep (its log replays onto it) */
  | { t: 'crash-base'; step: number; length: number; sha256: string }
  /**
   * a crash step's dm-log-writes log as the host read it, which the run does not keep: how many entries, and
   * the crash points picked in it with the workload's progress at each (each point's read-back follows as
   * a `crash-readback`)
   */
  | { t: 'crash-log'; step: number; entries: number; points: CrashPointRecord[] }
  /**
   * what a crash point (or the reopen after a kill) read back on the out disk, block by block, as the
   * version of the block each one equals (harness/crash/steps/crash-readback.ts): a version's bytes come from
   * the scenario's seed, so a block needs no digest of its own unless it equals no version (`other`)
   */
  | { t: 'crash-readback'; step: number; where: string; blockSize: number; runs: ReadBackRun[]; other: ForeignBlock[] }
  /**
   * the raw-disk audit after close at a crash point (or after a kill), of an image no run keeps: what it
   * found, or why the model could not read the disk
   */
  | { t: 'crash-audit'; step: number; where: string; disagreements: Disagreement[]; unreadable?: string };

/** One crash point of a crash step's log: its kind, the log entries its image holds, and how far the workload had got. */
export interface CrashPointRecord {
  kind: 'flush' | 'fua' | 'torn' | 'reordered' | 'end';
  /** "0..41", or "0..37 and 39,41" for a point that holds a subset of a window */
  entries: string;
  /** workload operations [0, completed) had returned and [0, issued) may have sent I/O */
  completed: number;
  issued: number;
}

/**
 * Consecutive blocks of a crash read-back that equal the same version: [first block, count, version]
 * (a version as the crash model numbers it: -1 the content before the workload, n workload operation n).
 */
export type ReadBackRun = [first: number, count: number, version: number];

/** A block of a crash read-back that equals no version of it: its digest, and its bytes for the first few. */
export interface ForeignBlock {
  block: number;
  /** the first 128 bits of its sha256, in hex (host-images.ts blockDigest) */
  sha256: string;
  hex?: string;
}

/** One block of a read, as the host found it on the output disk. */
export interface ObservedBlock {
  /** the first 128 bits of its sha256, in hex (host-images.ts blockDigest) */
  sha256: string;
  /** the bytes, when they differ from what the model expected at the time (bounded per read) */
  hex?: string;
}

/** The first line of observations.jsonl: what a replay needs that the steps do not say. */
export interface ObservationHeader {
  t: 'header';
  version: 1;
  cell: string;
  /** the scenario as it ran (the file may have changed since) */
  scenario: unknown;
  /** role -> guest device when the guest mapped its disks before the cell began (a shared guest) */
  disks?: Record<string, string>;
  phase?: 'write' | 'read';
}
