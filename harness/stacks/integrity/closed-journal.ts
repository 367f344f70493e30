/**
 * What a clean close left in dm-integrity's journal, read from the raw image (model/integrity/journal.ts),
 * for every stack with dm-integrity in journal mode: the integrity cell and the AEAD cells beneath dm-crypt.
 */
import { clearsJournalAtSuspend, journalEntryAreas } from '../../model/integrity/journal.ts';
import type { IntegrityGeometry } from '../../model/integrity/geometry.ts';
import { KernelFailure } from '../../verdict/failures.ts';
import type { GuestSession } from '../../run/session/cell.ts';
import { judgeClosedJournal } from '../../run/session/journal-judge.ts';

/**
 * The blocks whose entries the closed journal still holds (undefined: none), which the next activation
 * replays over the host's changes. Only the sections' entry sectors are read (a few KiB each, which the
 * observations keep whole for a re-judge); judgeClosedJournal (run/session/journal-judge.ts) judges them.
 */
export async function closedJournalBlocks(
  s: GuestSession, step: number, image: string, geom: IntegrityGeometry, journalSections: number,
  kernelVersion: number[] | undefined, wroteSinceActivation: boolean,
): Promise<Set<number> | undefined> {
  const areas = [];
  for (const a of journalEntryAreas(geom, journalSections)) areas.push(await s.images.readAt(image, a.offset, a.length));
  const j = judgeClosedJournal(step, areas, geom, { kernelVersion, wroteSinceActivation });
  if (j.sectors.length === 0) return undefined;
  if (j.failure !== undefined) throw new KernelFailure(j.failure);
  j.disagreements.forEach((d) => s.disagree(d));
  s.note(`the kernel left ${j.sectors.length} journal entries used at close (${j.blocks.size} blocks): the next open replays them`);
  return j.blocks;
}

/**
 * Whether a kernel may have left an encrypted journal uncleared: the host cannot read it, so only a kernel
 * known to clear it at suspend (clearsJournalAtSuspend, the same rule judgeClosedJournal applies) is not in doubt.
 */
export function encryptedJournalInDoubt(kernelVersion: number[] | undefined): boolean {
  return !clearsJournalAtSuspend(kernelVersion);
}
