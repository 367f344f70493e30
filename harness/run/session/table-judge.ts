/**
 * Judges what `dmsetup table` shows of a live device against what the plan loaded: the dm-integrity mode
 * letter an open asked for (integritysetup turns its mode flag into it), and the mode and tag size an
 * accepted raw table runs with (the ctr model's). Pure: the step runs dmsetup table and records what this
 * returns; a line that is no integrity table is named as found.
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

/** The table an accepted raw dm-integrity table reports back (its STATUSTYPE_TABLE): the mode and tag size the ctr model says it runs with. */
export function judgeShownTable(step: number, tableText: string, want: { mode: string; tagSize: number }): Disagreement[] {
  const shown = parseIntegrityTable(tableText);
  if (shown?.mode === want.mode && shown.tagSize === want.tagSize) return [];
  return [{ step, kind: 'table-shown', expected: `mode ${want.mode}, tag size ${want.tagSize}`, found: shown ? `mode ${shown.mode}, tag size ${shown.tagSize}` : 'no integrity table' }];
}
