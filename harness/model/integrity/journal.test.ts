import { describe, expect, it } from 'vitest';
import { journalLayout } from './geometry.ts';
import { journalEntryAreas, journalExtent, usedJournalSectors } from './journal.ts';

// crc32c tags (4 bytes), 512-byte sectors, no journal MAC: the layout the default scenarios get
const j = journalLayout({ tagSize: 4, log2SectorsPerBlock: 0, haveJournalMac: false });
const geom = { startSector: 0, journalSectionSectors: j.sectionSectors, journalSectionEntries: j.sectionEntries, journalEntrySize: j.entrySize };

/** The entry areas of a journal of `sections` sections, every entry unused, then these entries set (section, entry, sector). */
function journal(sections: number, used: Array<[number, number, number]>): Buffer[] {
  const buf = Buffer.alloc(journalExtent(geom, sections).length);
  const perSector = j.sectionEntries / 8;
  const at = (s: number, k: number) => s * j.sectionSectors * 512 + Math.floor(k / perSector) * 512 + (k % perSector) * j.entrySize;
  for (let s = 0; s < sections; s++) for (let k = 0; k < j.sectionEntries; k++) buf.writeUInt32LE(0xffffffff, at(s, k) + 4);
  for (const [s, k, sector] of used) {
    buf.writeUInt32LE(sector % 2 ** 32, at(s, k));
    buf.writeUInt32LE(Math.floor(sector / 2 ** 32), at(s, k) + 4);
  }
  return journalEntryAreas(geom, sections).map((a) => buf.subarray(a.offset - journalExtent(geom, sections).offset, a.offset - journalExtent(geom, sections).offset + a.length));
}

describe('usedJournalSectors', () => {
  it('finds nothing in a journal the kernel cleared at suspend', () => {
    expect(usedJournalSectors(journal(3, []), geom)).toEqual([]);
  });

  it('reads each used entry\'s sector, across entry sectors and sections, and skips in-progress ones', () => {
    const perSector = j.sectionEntries / 8;
    const buf = journal(3, [[0, 0, 4095], [0, perSector, 7], [2, j.sectionEntries - 1, 2 ** 33 + 5]]);
    expect(usedJournalSectors(buf, geom)).toEqual([4095, 7, 2 ** 33 + 5]);
    buf[0]!.writeUInt32LE(0xfffffffe, 4); // section 0, entry 0's sector_hi: in progress
    expect(usedJournalSectors(buf, geom)).toEqual([7, 2 ** 33 + 5]);
  });

  it('starts after the superblock\'s 8 sectors, reads each section\'s 8 entry sectors, and refuses an area of the wrong length', () => {
    expect(journalExtent({ ...geom, startSector: 16 }, 2)).toEqual({ offset: 24 * 512, length: 2 * j.sectionSectors * 512 });
    expect(journalEntryAreas({ ...geom, startSector: 16 }, 2)).toEqual([
      { offset: 24 * 512, length: 4096 }, { offset: 24 * 512 + j.sectionSectors * 512, length: 4096 },
    ]);
    expect(() => usedJournalSectors([Buffer.alloc(512)], geom)).toThrow(/section 0's entries are 4096 bytes/);
  });
});
