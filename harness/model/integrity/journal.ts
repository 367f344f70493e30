/**
 * What a closed journal-mode device's journal still holds. Since Linux 6.1 (984bf2cc531e "dm integrity:
 * clear the journal on suspend", backported to the 5.10, 5.15 and 6.0 stable series) postsuspend marks every
 * entry unused once the data is in place, when that activation wrote to the journal. Older kernels leave the
 * last sections' entries used, and the next activation's replay_journal() writes each of them again, data and
 * tag, over whatever the disk then holds (clearsJournalAtSuspend says which kernels are known to clear).
 *
 * A section is JOURNAL_BLOCK_SECTORS (8) sectors of entries, each sector packing entriesPerSector entries
 * from its start (the commit id and any MAC sit at its end), then the entries' data sectors. An entry starts
 * with its logical sector as two little-endian u32 (sector_lo, sector_hi); sector_hi 0xffffffff marks it
 * unused, 0xfffffffe in progress (journal_entry_is_unused / journal_entry_is_inprogress).
 */
import { ModelInputError } from '../errors.ts';
import type { IntegrityGeometry } from './geometry.ts';

const JOURNAL_BLOCK_SECTORS = 8;

/**
 * The first release of each series known to clear the journal at suspend after writes (984bf2cc531e).
 * Mainline has it from 6.1. 6.0.11 took it (its stable review series, November 2022). 5.15.85 has it (the
 * 5.15-rt changelog from 5.15.79 to 5.15.85 lists it). 5.10 was offered it the same week; the release that took
 * it is not known here, and 5.10.223 (Debian 11's) is the first seen to clear: a plain journal closed after
 * writes had no used entry. Releases of those series below these, and every older series, are not known to
 * clear; nor is a version without its stable patch level (a distribution's "6.0.0"), which reads as .0.
 */
const CLEARS_FROM: ReadonlyArray<readonly [number, number, number]> = [[5, 10, 223], [5, 15, 85], [6, 0, 11]];

/**
 * Whether this kernel is known to mark every journal entry unused at suspend once the activation wrote to the
 * journal. One rule for both uses: entries a clearing kernel left used are a disagreement, and an encrypted
 * journal (which the host cannot read) is taken as cleared only on such a kernel.
 */
export function clearsJournalAtSuspend(kernelVersion: readonly number[] | undefined): boolean {
  if (kernelVersion === undefined) return false;
  const [major = 0, minor = 0, patch = 0] = kernelVersion;
  if (major > 6 || (major === 6 && minor >= 1)) return true;
  const series = CLEARS_FROM.find(([a, b]) => a === major && b === minor);
  return series !== undefined && patch >= series[2];
}
const UNUSED = 0xffffffff;
const IN_PROGRESS = 0xfffffffe;

export type JournalGeometry = Pick<IntegrityGeometry, 'startSector' | 'journalSectionSectors' | 'journalSectionEntries' | 'journalEntrySize'>;

/** Where the journal lies in the superblock's image (bytes), for `sections` sections. */
export function journalExtent(geom: JournalGeometry, sections: number): { offset: number; length: number } {
  return { offset: (geom.startSector + JOURNAL_BLOCK_SECTORS) * 512, length: sections * geom.journalSectionSectors * 512 };
}

/**
 * Where each section's entries lie (its first JOURNAL_BLOCK_SECTORS sectors), in image bytes: all a reader
 * of the entries needs, a few KiB per section instead of the whole journal with its data sectors.
 */
export function journalEntryAreas(geom: JournalGeometry, sections: number): Array<{ offset: number; length: number }> {
  const { offset } = journalExtent(geom, sections);
  return Array.from({ length: sections }, (_, i) => ({ offset: offset + i * geom.journalSectionSectors * 512, length: JOURNAL_BLOCK_SECTORS * 512 }));
}

/** The logical sectors of every used entry in an unencrypted journal, one entry area per section, in section order. */
export function usedJournalSectors(areas: readonly Buffer[], geom: JournalGeometry): number[] {
  const perSector = geom.journalSectionEntries / JOURNAL_BLOCK_SECTORS;
  if (!Number.isInteger(perSector) || perSector < 1) throw new ModelInputError(`${geom.journalSectionEntries} entries per section do not fill ${JOURNAL_BLOCK_SECTORS} sectors`);
  const out: number[] = [];
  areas.forEach((area, s) => {
    if (area.length !== JOURNAL_BLOCK_SECTORS * 512) throw new ModelInputError(`section ${s}'s entries are ${JOURNAL_BLOCK_SECTORS * 512} bytes, got ${area.length}`);
    for (let k = 0; k < geom.journalSectionEntries; k++) {
      const at = Math.floor(k / perSector) * 512 + (k % perSector) * geom.journalEntrySize;
      const hi = area.readUInt32LE(at + 4);
      if (hi === UNUSED || hi === IN_PROGRESS) continue;
      out.push(hi * 2 ** 32 + area.readUInt32LE(at));
    }
  });
  return out;
}
