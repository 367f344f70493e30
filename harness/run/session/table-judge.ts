/**
 * Judges what `dmsetup table` shows of a live device against what the plan loaded: the dm-integrity mode
 * letter an open asked for (integritysetup turns its mode flag into it). Pure: the step runs dmsetup table
 * and records what this returns; a line that is no integrity table is named as found.
 */
import { parseIntegrityTable } from '../../model/integrity/activation.ts';
import type { Disagreement } from './observations.ts';

/** The live table's mode letter against the open's: `want.letter` (J, B, D, R) for `want.mode` (journal, ...). */
export function judgeTableMode(step: number, tableText: string, want: { letter: string; mode: string }): Disagreement[] {
  const text = tableText.trim();
  const mode = parseIntegrityTable(text)?.mode;
  if (mode === want.letter) return [];
  return [{ step, kind: 'open-mode', expected: `table mode ${want.letter} (${want.mode})`, found: mode === undefined ? `'${text}'` : `mode ${mode}` }];
}
