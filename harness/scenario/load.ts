import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { UsageError } from '../errors.ts';
import { checkCryptAeadScenario } from './crypt-check.ts';
import { checkLuks2Scenario } from './luks-check.ts';
import { scenarioSchema, type IoRange, type ScenarioBody } from './schema.ts';

export interface Scenario extends ScenarioBody {
  /** Path relative to the scenarios directory, without extension: "integrity/001-crc32c-journal". */
  id: string;
  file: string;
}

/** Disk names the harness uses for its own transfer disks. */
export const RESERVED_DISKS = ['payload', 'out'];

export class ScenarioError extends UsageError {
  override name = 'ScenarioError';
}

function fieldPath(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)';
}

function formatIssues(file: string, issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => `${file}: ${fieldPath(i.path)}: ${i.message}`).join('\n');
}

/** Checks what the schema cannot: references, units, and that each step fits the stack's state. */
export function checkSemantics(file: string, s: ScenarioBody): string[] {
  const errs: string[] = [];
  const disks = new Map(s.disks.map((d) => [d.name, d]));
  s.disks.forEach((d, i) => {
    if (RESERVED_DISKS.includes(d.name)) errs.push(`disks[${i}].name: '${d.name}' is reserved for the harness`);
    if (s.disks.findIndex((e) => e.name === d.name) !== i) errs.push(`disks[${i}].name: '${d.name}' is declared twice`);
    if (d.size % 4096 !== 0 || d.size === 0) errs.push(`disks[${i}].size: ${d.size} is not a positive multiple of 4096`);
  });
  const disk = disks.get(s.stack.disk);
  if (disk === undefined) errs.push(`stack.disk: '${s.stack.disk}' is not one of the declared disks (${[...disks.keys()].join(', ')})`);
  if (s.stack.type === 'integrity' && s.stack.hash === 'hmac-sha256' && s.stack.key === undefined) errs.push('stack.key: hmac-sha256 needs a hex key');
  if (s.stack.type === 'crypt-aead') errs.push(...checkCryptAeadScenario(s.stack, s.steps, disk));
  if (s.stack.type === 'luks2') errs.push(...checkLuks2Scenario(s.stack, s.steps, disk));
  const unit = s.stack.sectorSize;
  let open = true;
  s.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const needOpen = (what: string) => {
      if (!open) errs.push(`${at}: '${what}' needs the stack open (add an 'open' step before it)`);
    };
    if (step === 'open') {
      if (open) errs.push(`${at}: 'open' but the stack is already open`);
      open = true;
    } else if (step === 'close') {
      if (!open) errs.push(`${at}: 'close' but the stack is already closed`);
      open = false;
    } else if (step === 'status') {
      needOpen('status');
    } else if ('corrupt' in step) {
      if (open) errs.push(`${at}.corrupt: the host can only corrupt a closed stack (add a 'close' step before it)`);
      if (step.corrupt.where === 'iv' && s.stack.type === 'integrity') errs.push(`${at}.corrupt.where: 'iv' exists only in crypt-aead and luks2 stacks (the IV in the dm-crypt tuple); use data or tag`);
    } else if ('discard' in step) {
      needOpen('discard');
      if (s.stack.type === 'integrity') errs.push(`${at}.discard: discard steps run on crypt-aead and luks2 stacks here`);
      const d = step.discard;
      if (d.offset % unit !== 0 || d.length === 0 || d.length % unit !== 0) errs.push(`${at}.discard: offset ${d.offset} and length ${d.length} must be multiples of the stack's sector size ${unit}, length > 0`);
      if (disk !== undefined && d.offset + d.length > disk.size) errs.push(`${at}.discard: ends at ${d.offset + d.length}, beyond the ${disk.size}-byte disk`);
    } else {
      const [kind, r] = 'write' in step ? ['write', step.write] as const : ['read', step.read] as const;
      needOpen(kind);
      errs.push(...checkRange(`${at}.${kind}`, r, unit, disk?.size));
    }
  });
  return errs;
}

function checkRange(at: string, r: IoRange, unit: number, diskSize: number | undefined): string[] {
  const errs: string[] = [];
  const bs = r.bs === 'block' ? unit : r.bs;
  if (r.offset % unit !== 0) errs.push(`${at}.offset: ${r.offset} is not a multiple of the stack's sector size ${unit}`);
  if (r.length === 0 || r.length % unit !== 0) errs.push(`${at}.length: ${r.length} is not a positive multiple of ${unit}`);
  if (bs % unit !== 0 || bs === 0) errs.push(`${at}.bs: ${bs} is not a positive multiple of ${unit}`);
  else if (r.length % bs !== 0) errs.push(`${at}.length: ${r.length} is not a multiple of bs ${bs}`);
  if (diskSize !== undefined && r.offset + r.length > diskSize) errs.push(`${at}: ends at ${r.offset + r.length}, beyond the ${diskSize}-byte disk`);
  return errs;
}

/** Reads, parses and validates one scenario file; every problem is reported with the file and field. */
export async function loadScenario(file: string, scenariosDir: string): Promise<Scenario> {
  const shown = relative(process.cwd(), file) || file;
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    if (err instanceof YAMLParseError) throw new ScenarioError(`${shown}: not valid YAML: ${err.message}`, { cause: err });
    throw new ScenarioError(`${shown}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) throw new ScenarioError(formatIssues(shown, parsed.error.issues));
  const errs = checkSemantics(shown, parsed.data);
  if (errs.length > 0) throw new ScenarioError(errs.map((e) => `${shown}: ${e}`).join('\n'));
  const id = relative(scenariosDir, file).replace(/\.ya?ml$/, '');
  return { ...parsed.data, id, file };
}
