/** The KCIDB I/O schema version written and validated against (schema-v<major>.<minor>.json, README.md). */
export const KCIDB_SCHEMA_VERSION = { major: 5, minor: 3 } as const;

export const KCIDB_SCHEMA_FILE = new URL(`./schema-v${KCIDB_SCHEMA_VERSION.major}.${KCIDB_SCHEMA_VERSION.minor}.json`, import.meta.url);

/** Our origin unless --kcidb-origin says otherwise; KCIDB ids are "<origin>:<our id>". */
export const DEFAULT_KCIDB_ORIGIN = 'integrity_harness';

/** Test paths start here: integrity_harness.crypt.001-gcm-read-after-write. */
export const KCIDB_TEST_ROOT = 'integrity_harness';
