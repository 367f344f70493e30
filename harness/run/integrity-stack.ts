import type { IntegrityStack } from '../scenario/schema.ts';

/**
 * argv for the real tools that build and tear down a dm-integrity stack in the guest. Pure: the runner
 * executes them through the agent.
 */
const MODE_FLAG: Record<IntegrityStack['mode'], string[]> = {
  journal: [],
  bitmap: ['--integrity-bitmap-mode'],
  direct: ['--integrity-no-journal'],
};

function hashArgs(s: IntegrityStack): string[] {
  if (s.hash === 'hmac-sha256') return ['--integrity', 'hmac(sha256)', '--integrity-key-file', '/tmp/ih-integrity.key', '--integrity-key-size', String(s.key!.length / 2)];
  return ['--integrity', s.hash];
}

export function integrityFormatArgv(s: IntegrityStack, device: string): string[] {
  const argv = ['integritysetup', 'format', '--batch-mode', device, ...hashArgs(s), '--sector-size', String(s.sectorSize)];
  if (s.interleaveSectors !== undefined) argv.push('--interleave-sectors', String(s.interleaveSectors));
  return argv;
}

export function integrityOpenArgv(s: IntegrityStack, device: string, name: string): string[] {
  const argv = ['integritysetup', 'open', device, name, ...hashArgs(s), ...MODE_FLAG[s.mode]];
  if (s.allowDiscards) argv.push('--allow-discards');
  return argv;
}

export function integrityCloseArgv(name: string): string[] {
  return ['integritysetup', 'close', name];
}

export interface IntegrityStatus {
  mismatches: number;
  providedDataSectors: number;
  recalcSector: string;
}

/** `dmsetup status <name>`: "0 <len> integrity <mismatches> <provided_data_sectors> <recalc_sector|->". */
export function parseIntegrityStatus(line: string): IntegrityStatus | undefined {
  const m = line.trim().match(/^\d+ \d+ integrity (\d+) (\d+) (\S+)/);
  if (!m) return undefined;
  return { mismatches: Number(m[1]), providedDataSectors: Number(m[2]), recalcSector: m[3]! };
}
