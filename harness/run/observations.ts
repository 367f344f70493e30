/** What the harness saw, and where it disagrees with the model. Shared by the runner and reporters. */
import type { CommandExpectation, HostOp } from '../repro/types.ts';

export type Verdict = 'pass' | 'fail' | 'crash' | 'hang' | 'error' | 'skip';

export interface Disagreement {
  step: number;
  /** silent-acceptance | false-alarm | data-mismatch | wrong-errno | wrong-failing-blocks | mismatch-counter | log */
  kind: string;
  /** Block index on the top device, when the disagreement is about one block. */
  block?: number;
  /** Logical 512-byte sector where that block starts. */
  sector?: number;
  expected: string;
  found: string;
}

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

/** How one execution of a cell ended: shared by the in-memory result, each run record and the summary's cell. */
export interface Outcome {
  verdict: Verdict;
  reason: string;
  durationMs: number;
  bootMs?: number;
  /** Normalised failure signature (crash: oops type + function; fail: scenario + first disagreement kind). */
  signature?: string;
}

export interface CellResult extends Outcome {
  kernelRelease?: string;
  steps: StepRecord[];
  disagreements: Disagreement[];
}
