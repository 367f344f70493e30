import { readFileSync } from 'node:fs';

/**
 * A small JSON Schema (2020-12) validator for the subset our schemas use: type, const, enum, properties,
 * required, additionalProperties, items, minimum, pattern, format date-time, oneOf and local $ref.
 * Unknown keywords are an error, so a schema cannot silently use something this does not check.
 */
export type JsonSchema = { [k: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs', '$comment']);
const KNOWN = new Set([...ANNOTATIONS, 'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minimum', 'pattern', 'format', 'oneOf', '$ref']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const got = typeOf(v);
  return got === want || (want === 'number' && got === 'integer');
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema {
  if (!ref.startsWith('#/')) throw new Error(`schema: only local $ref is supported, got ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown>)?.[part];
  if (typeof node !== 'object' || node === null) throw new Error(`schema: $ref ${ref} resolves to nothing`);
  return node as JsonSchema;
}

function check(root: JsonSchema, s: JsonSchema, v: unknown, path: string, errs: string[]): void {
  for (const k of Object.keys(s)) if (!KNOWN.has(k)) throw new Error(`schema: keyword '${k}' at ${path} is not supported by this validator`);
  if (typeof s.$ref === 'string') check(root, resolveRef(root, s.$ref), v, path, errs);
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => typeMatches(t, v))) {
      errs.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(v)}`);
      return;
    }
  }
  if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(v)) errs.push(`${path}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    errs.push(`${path}: expected one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}`);
  }
  if (typeof s.minimum === 'number' && typeof v === 'number' && v < s.minimum) errs.push(`${path}: ${v} is below the minimum ${s.minimum}`);
  if (typeof s.pattern === 'string' && typeof v === 'string' && !new RegExp(s.pattern, 'u').test(v)) errs.push(`${path}: '${v}' does not match ${s.pattern}`);
  if (s.format === 'date-time' && typeof v === 'string' && !(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)))) {
    errs.push(`${path}: '${v}' is not an RFC 3339 date-time`);
  }
  if (Array.isArray(s.oneOf)) {
    const passing = (s.oneOf as JsonSchema[]).filter((sub) => {
      const e: string[] = [];
      check(root, sub, v, path, e);
      return e.length === 0;
    });
    if (passing.length !== 1) errs.push(`${path}: matches ${passing.length} of the oneOf alternatives, expected exactly 1`);
  }
  if (typeOf(v) === 'object') {
    const obj = v as Record<string, unknown>;
    const props = (s.properties ?? {}) as Record<string, JsonSchema>;
    for (const r of (s.required as string[] | undefined) ?? []) if (!(r in obj)) errs.push(`${path}: missing required property '${r}'`);
    for (const [k, val] of Object.entries(obj)) {
      if (k in props) check(root, props[k]!, val, `${path}.${k}`, errs);
      else if (s.additionalProperties === false) errs.push(`${path}: unexpected property '${k}'`);
      else if (typeof s.additionalProperties === 'object') check(root, s.additionalProperties as JsonSchema, val, `${path}.${k}`, errs);
    }
  }
  if (Array.isArray(v) && typeof s.items === 'object') v.forEach((item, i) => check(root, s.items as JsonSchema, item, `${path}[${i}]`, errs));
}

/** Every place `value` breaks `schema`, as "$.cells[0].verdict: expected one of ..."; empty when valid. */
export function validate(schema: JsonSchema, value: unknown): string[] {
  const errs: string[] = [];
  check(schema, schema, value, '$', errs);
  return errs;
}

export function loadSchema(name: 'summary'): JsonSchema {
  return JSON.parse(readFileSync(new URL(`./${name}.schema.json`, import.meta.url), 'utf8')) as JsonSchema;
}
