/**
 * What a clean close left in dm-integrity's journal, read from the raw image (model/integrity/journal.ts),
 * for every stack with dm-integrity in journal mode: the integrity cell and the AEAD cells beneath dm-crypt.
 */
import { journalEntryAreas, usedJournalSectors } from '../../model/integrity/journal.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import { compareVersions } from '../../scenario/versions.ts';
import { KernelFailure, type GuestSession } from '../../run/session/cell.ts';

/**
 * The blocks whose entries the closed journal still holds (undefined: none), which the next activation
 * replays over the host's changes. Only the sections' entry sectors are read (a few KiB each, which the
 * observations keep whole for a re-judge). Upstream 6.1 and later clears the journal at suspend when that
 * activation wrote to it (wrote_to_journal), so used entries after writes there are a disagreement; an
 * activation that only read leaves what it found, which its next open replays again.
 */
export async function closedJournalBlocks(
  s: GuestSession, step: number, image: string, geom: IntegrityGeometry, journalSections: number,
  kernelVersion: number[] | undefined, wroteSinceActivation: boolean,
): Promise<Set<number> | undefined> {
  const areas = [];
  for (const a of journalEntryAreas(geom, journalSections)) areas.push(await s.images.readAt(image, a.offset, a.length));
  const sectors = usedJournalSectors(areas, geom);
  if (sectors.length === 0) return undefined;
  const outside = sectors.find((ls) => ls >= geom.providedDataSectors);
  if (outside !== undefined) throw new KernelFailure(`the closed journal holds an entry for sector ${outside}, beyond the device's ${geom.providedDataSectors} sectors`);
  if (wroteSinceActivation && kernelVersion !== undefined && compareVersions(kernelVersion, [6, 1]) >= 0) {
    s.disagree({ step, kind: 'journal-not-cleared', expected: 'every journal entry unused after a clean close that followed writes (Linux 6.1 clears the journal at suspend, 984bf2cc531e)', found: `${sectors.length} used entries` });
  }
  const blocks = new Set(sectors.map((ls) => Math.floor(ls / geom.sectorsPerBlock)));
  s.note(`the kernel left ${sectors.length} journal entries used at close (${blocks.size} blocks): the next open replays them`);
  return blocks;
}

/**
 * Whether a kernel may have left an encrypted journal uncleared: the host cannot read it, and the clear at
 * suspend (984bf2cc531e) reached the 5.10 stable series, so only older kernels are in doubt.
 */
export function encryptedJournalInDoubt(kernelVersion: number[] | undefined): boolean {
  return kernelVersion === undefined || compareVersions(kernelVersion, [5, 10]) < 0;
}
