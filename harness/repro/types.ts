/**
 * What a run records so that a failing cell can be replayed outside the harness (harness/repro/): the
 * model's answer for each guest command it judges, and what the host did to the raw images. Additive
 * fields of steps.jsonl (StepRecord); the reproducer generator reads them back.
 */

/** A host-side change to a raw image while the stack is closed; `disk` is the scenario's disk name. */
export type HostOp =
  | { op: 'flip'; disk: string; offset: number }
  | { op: 'swap'; a: { disk: string; offset: number }; b: { disk: string; offset: number }; length: number };

/**
 * What the model says a guest command must do. `command` indexes the step's `commands`. Reads list only
 * what is not the default: I/Os that must fail (`fail`: offset and the errnos it may end with), blocks
 * that must fail inside a failing multi-block I/O (`blocks`: block and errno; the others must read), and
 * the bytes of the blocks that must read back (`data`: first block, count, source: a byte offset into the
 * payload the writes copied from, `-1` for zeros, or the bytes in hex when neither holds them).
 */
export type CommandExpectation =
  | { command: number; op: 'write'; offset: number; length: number; bs: number; errno: number }
  | {
    command: number; op: 'read'; offset: number; length: number; bs: number; blockSize: number;
    fail: Array<[number, number[]]>; blocks: Array<[number, number]>; data: Array<[number, number, number | string]>;
  }
  | { command: number; op: 'read-unaligned'; offset: number; errno: number }
  | { command: number; op: 'discard' | 'flush'; errno: number }
  | { command: number; op: 'status'; device: string; mismatches: [number, number] }
  /** the model says the kernel (or the tool) must refuse this command: any exit but 0 */
  | { command: number; op: 'refused'; why: string };

/** A CommandExpectation before the session knows which command it belongs to. */
export type Expectation = CommandExpectation extends infer E ? E extends { command: number } ? Omit<E, 'command'> : never : never;
