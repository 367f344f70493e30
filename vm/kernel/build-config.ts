// Kconfig fragments: which ones a build uses, what they ask for, and whether olddefconfig kept it.
import { promises as fs } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KernelSpecError } from './build-errors.ts';

export const BASE_FRAGMENT = fileURLToPath(new URL('../kconfig/base.config', import.meta.url));

// Without these the harness cannot run a single scenario: a kernel missing one is not testable.
export const CRITICAL_OPTIONS = [
  'DM_INTEGRITY',
  'DM_CRYPT',
  'VIRTIO_BLK',
  'VIRTIO_CONSOLE',
  'BLK_DEV_INITRD',
  'DEVTMPFS',
] as const;

export interface Fragment {
  name: string;
  text: string;
}

export async function loadFragments(extra: readonly string[]): Promise<Fragment[]> {
  const files = [BASE_FRAGMENT, ...extra];
  return Promise.all(
    files.map(async (file) => {
      try {
        return { name: file, text: await fs.readFile(file, 'utf8') };
      } catch (err) {
        throw new KernelSpecError(`Kconfig fragment ${file} cannot be read (--kconfig expects a file path)`, {
          cause: err,
        });
      }
    }),
  );
}

const SET_RE = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const UNSET_RE = /^# CONFIG_([A-Za-z0-9_]+) is not set$/;

// Parses a .config or fragment into option -> value ('n' for "is not set").
export function parseConfig(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const set = SET_RE.exec(line);
    if (set?.[1] !== undefined && set[2] !== undefined) {
      values.set(set[1], set[2]);
      continue;
    }
    const unset = UNSET_RE.exec(line);
    if (unset?.[1] !== undefined) values.set(unset[1], 'n');
  }
  return values;
}

// Options the fragments want built in, later fragments overriding earlier ones (as merge_config does).
export function wantedBuiltIn(fragments: readonly Fragment[]): string[] {
  const merged = new Map<string, string>();
  for (const fragment of fragments) {
    for (const [option, value] of parseConfig(fragment.text)) merged.set(option, value);
  }
  return [...merged].filter(([, value]) => value === 'y').map(([option]) => option);
}

export interface ConfigVerification {
  missingOptions: string[];
  missingCritical: string[];
}

export function verifyConfig(fragments: readonly Fragment[], finalConfigText: string): ConfigVerification {
  const final = parseConfig(finalConfigText);
  const missingOptions = wantedBuiltIn(fragments).filter((option) => final.get(option) !== 'y');
  const missingCritical = CRITICAL_OPTIONS.filter((option) => final.get(option) !== 'y');
  return { missingOptions, missingCritical };
}
