import type { GuestSession } from './cell.ts';

/**
 * The device's own table loaded again under it (dmsetup suspend, reload, resume): a new target instance is
 * constructed while the old one still holds the device, the old one flushes and goes at the swap, and the
 * new one resumes. What a user's table reload or an LVM refresh does; the data must not change.
 */
export async function reloadTable(s: GuestSession, name: string): Promise<void> {
  const table = (await s.must(['dmsetup', 'table', '--showkeys', name])).stdout.toString().trim();
  await s.must(['dmsetup', 'suspend', name]);
  await s.must(['dmsetup', 'reload', name, '--table', table]);
  await s.must(['dmsetup', 'resume', name]);
}

/** The device suspended and resumed with the same target instance: its postsuspend and resume hooks run. */
export async function suspendResume(s: GuestSession, name: string): Promise<void> {
  await s.must(['dmsetup', 'suspend', name]);
  await s.must(['dmsetup', 'resume', name]);
}
