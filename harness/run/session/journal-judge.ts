/**
 * Judges what a clean close left in dm-integrity's journal (model/integrity/journal.ts): the used entries in
 * the sections' entry areas the step read from the raw image. A kernel known to clear the journal at suspend
 * when that activation wrote to it (wrote_to_journal, 984bf2cc531e; clearsJournalAtSuspend) leaves no used
 * entry after writes, so used entries there are a disagreement; an activation that only read leaves what it found, which its next open replays
 * again. Pure: the step reads the areas and records what this returns.
 */
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import { clearsJournalAtSuspend, usedJournalSectors } from '../../model/integrity/journal.ts';
import type { Disagreement } from '../../verdict/types.ts';

export type ClosedJournalGeometry = Pick<IntegrityGeometry,
  'startSector' | 'journalSectionSectors' | 'journalSectionEntries' | 'journalEntrySize' | 'providedDataSectors' | 'sectorsPerBlock'>;

export interface ClosedJournalJudgement {
  /** the logical sector of each used entry, in section order */
  sectors: number[];
  /** the blocks whose entries the journal holds, which the next activation replays over the host's changes */
  blocks: Set<number>;
  disagreements: Disagreement[];
  /** an entry no replay can apply (a sector beyond the device): the kernel wrote a broken journal */
  failure?: string;
}

export function judgeClosedJournal(
  step: number, areas: readonly Buffer[], geom: ClosedJournalGeometry,
  p: { kernelVersion: readonly number[] | undefined; wroteSinceActivation: boolean },
): ClosedJournalJudgement {
  const sectors = usedJournalSectors(areas, geom);
  const blocks = new Set(sectors.map((ls) => Math.floor(ls / geom.sectorsPerBlock)));
  const outside = sectors.find((ls) => ls >= geom.providedDataSectors);
  if (outside !== undefined) {
    return { sectors, blocks, disagreements: [], failure: `the closed journal holds an entry for sector ${outside}, beyond the device's ${geom.providedDataSectors} sectors` };
  }
  const clears = p.wroteSinceActivation && clearsJournalAtSuspend(p.kernelVersion);
  const disagreements: Disagreement[] = sectors.length > 0 && clears
    ? [{ step, kind: 'journal-not-cleared', expected: 'every journal entry unused after a clean close that followed writes (this kernel clears the journal at suspend, 984bf2cc531e)', found: `${sectors.length} used entries` }]
    : [];
  return { sectors, blocks, disagreements };
}
