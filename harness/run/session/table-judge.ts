/**
 * Judges what `dmsetup table` shows of a live device against what the plan loaded: the dm-integrity mode
 * letter an open asked for (integritysetup turns its mode flag into it), and the mode and tag size an
 * accepted raw dm-integrity or dm-crypt table runs with (the ctr models'); and for the `tables` step, whether a
 * raw table loaded as the ctr model says, left no device when refused, and serves the model's size. Pure: the
 * step runs dmsetup create, info, status and table and records what this returns; a line that is no
 * integrity table is named as found.
 */
import { parseIntegrityTable } from '../../model/integrity/activation.ts';
import type { Disagreement } from '../../verdict/types.ts';
import { parseIntegrityStatus } from './status-judge.ts';

/** What a ctr model says of a raw table: it loads, or the kernel refuses it with `error` (checked `at`). */
export type TableLoadWant = { ok: true } | { ok: false; error: string; at: string };

/** `dmsetup create`'s exit status for a raw `table` against the ctr model: one it refuses must fail, one it accepts must load. */
export function judgeTableLoad(step: number, table: string, want: TableLoadWant, exitCode: number | null): Disagreement[] {
  if (!want.ok && exitCode === 0) return [{ step, kind: 'table-accepted', expected: `refused: ${want.error} (at ${want.at})`, found: `the kernel accepted '${table}'` }];
  if (want.ok && exitCode !== 0) return [{ step, kind: 'table-refused', expected: 'the kernel accepts the table (model)', found: `dmsetup create failed for '${table}'` }];
  return [];
}

/** A refused table leaves no device: `exists` is whether `dmsetup info <name>` found one after `what` (the refused table or tables). */
export function judgeTableLeftover(step: number, what: string, name: string, exists: boolean): Disagreement[] {
  return exists ? [{ step, kind: 'table-leftover', expected: `no device after ${what}`, found: `${name} exists` }] : [];
}

/** An accepted raw dm-integrity table's `dmsetup status` line: the provided data sectors the ctr model says it serves. */
export function judgeTableSize(step: number, statusText: string, want: { providedDataSectors: number }): Disagreement[] {
  const found = parseIntegrityStatus(statusText)?.providedDataSectors;
  if (found === want.providedDataSectors) return [];
  return [{ step, kind: 'table-size', expected: `${want.providedDataSectors} provided data sectors`, found: String(found) }];
}

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
