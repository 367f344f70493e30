/**
 * The fault-injection suites' table (issue 17): each fault, the verdict class it must get, the one it got and
 * the exit code that gives, as a `FAULT | ... |` line on stderr (collected from a test run into the issue).
 */
import { exitCodeFor } from '../verdict/exit-code.ts';
import type { Verdict } from '../verdict/types.ts';

export interface FaultRow { fault: string; expected: Verdict; seen: Verdict; exit: number }

export class FaultTable {
  readonly rows: FaultRow[] = [];

  record(fault: string, expected: Verdict, seen: Verdict): void {
    const exit = exitCodeFor([seen]);
    this.rows.push({ fault, expected, seen, exit });
    process.stderr.write(`FAULT | ${fault} | expected ${expected} | seen ${seen} | exit ${exit}\n`);
  }
}
