/**
 * Test helper: validates a document against KernelCI's exported KCIDB schema with Ajv in draft-07 mode (what
 * kcidb-io validates with) and ajv-formats, so `uri`, `email` and `date-time` are checked, not ignored.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { KCIDB_SCHEMA_FILE } from './version.ts';

// ajv-formats is CommonJS: under Node's ESM loader its default export is the module object
type AddFormats = (ajv: Ajv) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats));

let compiled: ReturnType<Ajv['compile']> | undefined;

function validator(): ReturnType<Ajv['compile']> {
  if (compiled !== undefined) return compiled;
  const schema = JSON.parse(readFileSync(KCIDB_SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: true });
  addFormats(ajv);
  compiled = ajv.compile({ $schema: 'http://json-schema.org/draft-07/schema#', ...schema });
  return compiled;
}

/** Every violation as "<instance path> <message>"; empty when the document is valid KCIDB I/O data. */
export function kcidbErrors(doc: unknown): string[] {
  const v = validator();
  if (v(doc)) return [];
  return (v.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
