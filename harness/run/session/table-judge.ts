/**
 * Judges what `dmsetup table` shows of a live device against what the plan loaded: the dm-integrity mode
 * letter an open asked for (integritysetup turns its mode flag into it), and the mode and tag size an
 * accepted raw dm-integrity or dm-crypt table runs with (the ctr models'). Pure: the step runs dmsetup table and records what this
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

/** What `dmsetup table` shows back of crypt_status(): the integrity argument and the sector size. */
export function shownCryptOptions(shown: string): { integrity: string | undefined; sectorSize: number } {
  const words = shown.trim().split(/\s+/);
  return {
    integrity: words.find((w) => w.startsWith('integrity:')),
    sectorSize: Number(words.find((w) => w.startsWith('sector_size:'))?.slice('sector_size:'.length) ?? 512),
  };
}

/** The table an accepted raw dm-crypt table reports back: the integrity argument and sector size the crypt ctr model says. */
export function judgeShownCryptTable(step: number, tableText: string, want: { tagSize: number; aead: boolean; sectorSize: number }): Disagreement[] {
  const shown = shownCryptOptions(tableText);
  const integrity = want.tagSize ? `integrity:${want.tagSize}:${want.aead ? 'aead' : 'none'}` : undefined;
  if (shown.integrity === integrity && shown.sectorSize === want.sectorSize) return [];
  return [{ step, kind: 'table-shown', expected: `${integrity ?? 'no integrity'}, sector_size ${want.sectorSize}`, found: `${shown.integrity ?? 'no integrity'}, sector_size ${shown.sectorSize}` }];
}
