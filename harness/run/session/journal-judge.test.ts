import { describe, expect, it } from 'vitest';
import { journalLayout } from '../../model/integrity/geometry.ts';
import { clearsJournalAtSuspend, journalEntryAreas } from '../../model/integrity/journal.ts';
import { encryptedJournalInDoubt } from '../../stacks/integrity/closed-journal.ts';
import { judgeClosedJournal } from './journal-judge.ts';

// crc32c tags (4 bytes), 4096-byte blocks (8 sectors each), no journal MAC, 2 sections
const j = journalLayout({ tagSize: 4, log2SectorsPerBlock: 3, haveJournalMac: false });
const geom = { startSector: 0, journalSectionSectors: j.sectionSectors, journalSectionEntries: j.sectionEntries, journalEntrySize: j.entrySize, providedDataSectors: 1024, sectorsPerBlock: 8 };
const SECTIONS = 2;

/** Each section's entry area as the step reads it: every entry unused, then these (section, entry, sector) used. */
function areas(used: Array<[number, number, number]>): Buffer[] {
  const perSector = j.sectionEntries / 8;
  const out = journalEntryAreas(geom, SECTIONS).map((a) => Buffer.alloc(a.length));
  const at = (k: number) => Math.floor(k / perSector) * 512 + (k % perSector) * j.entrySize;
  for (const area of out) for (let k = 0; k < j.sectionEntries; k++) area.writeUInt32LE(0xffffffff, at(k) + 4);
  for (const [s, k, sector] of used) { out[s]!.writeUInt32LE(sector, at(k)); out[s]!.writeUInt32LE(0, at(k) + 4); }
  return out;
}

describe('judgeClosedJournal', () => {
  const after = { kernelVersion: [6, 1, 0], wroteSinceActivation: true };

  it('agrees with a journal 6.1 cleared at suspend, and leaves what an older kernel left to the replay', () => {
    expect(judgeClosedJournal(7, areas([]), geom, after)).toEqual({ sectors: [], blocks: new Set(), disagreements: [] });
    expect(judgeClosedJournal(7, areas([[0, 0, 16], [1, 3, 23]]), geom, { ...after, kernelVersion: [5, 4, 0] })).toEqual({ sectors: [16, 23], blocks: new Set([2]), disagreements: [] });
  });

  it('finds a doctored entry left used after writes on 6.1, but not after an activation that only read', () => {
    expect(judgeClosedJournal(7, areas([[1, 3, 40]]), geom, after)).toEqual({
      sectors: [40], blocks: new Set([5]), disagreements: [{
        step: 7, kind: 'journal-not-cleared',
        expected: 'every journal entry unused after a clean close that followed writes (this kernel clears the journal at suspend, 984bf2cc531e)',
        found: '1 used entries',
      }],
    });
    expect(judgeClosedJournal(7, areas([[1, 3, 40]]), geom, { ...after, wroteSinceActivation: false }).disagreements).toEqual([]);
  });

  it('fails a journal with an entry beyond the device', () => {
    expect(judgeClosedJournal(7, areas([[0, 1, 1024]]), geom, after).failure).toBe("the closed journal holds an entry for sector 1024, beyond the device's 1024 sectors");
  });
});

describe('the clear at suspend, one rule for the judge and the encrypted journal', () => {
  it('holds a kernel to it only where its series is known to have it', () => {
    const used = areas([[1, 3, 40]]);
    const judged = (v: number[]) => judgeClosedJournal(7, used, geom, { kernelVersion: v, wroteSinceActivation: true }).disagreements.length;
    // Debian 11's 5.10.223 was seen to clear; an earlier 5.10, a 6.0.0 without its stable level and 5.4 are not known to
    for (const [v, clears] of [[[6, 12, 0], true], [[6, 1, 0], true], [[6, 0, 11], true], [[5, 15, 85], true], [[5, 10, 223], true],
      [[6, 0, 0], false], [[5, 15, 84], false], [[5, 10, 157], false], [[5, 4, 300], false]] as Array<[number[], boolean]>) {
      expect(clearsJournalAtSuspend(v), v.join('.')).toBe(clears);
      expect(judged(v), v.join('.')).toBe(clears ? 1 : 0);
      expect(encryptedJournalInDoubt(v), v.join('.')).toBe(!clears);
    }
    expect(clearsJournalAtSuspend(undefined)).toBe(false);
    expect(encryptedJournalInDoubt(undefined)).toBe(true);
  });
});
