/** Messages and slot states between the audit (audit-workers.ts) and its worker threads (audit-worker.ts). */

export interface BeginMessage {
  type: 'begin';
  module: string;
  params: unknown;
  data: string;
  meta?: string;
  blockSize: number;
  tagSize: number;
  /** [0, slots): slot states; [slots]: 1 when the audit stopped early (skip what is still queued) */
  control: SharedArrayBuffer;
  slots: SharedArrayBuffer;
  slotBytes: number;
}
export interface JobMessage {
  type: 'job';
  slot: number;
  ls0: number;
  n: number;
  dataAt: number;
  tagAt: number;
}
export type WorkerMessage = BeginMessage | JobMessage | { type: 'end' };

export const SLOT_VERIFIED = 1;
export const SLOT_NOT_VERIFIED = 2;
export const SLOT_FAILED = 3;
