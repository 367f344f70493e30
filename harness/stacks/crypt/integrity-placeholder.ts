/**
 * The placeholder a crypt-aead scenario's dm-crypt tables name a dm-integrity lower device with:
 * {integrity:NAME:TAG[:BLOCK[:HASH]]}, dm-integrity on disk NAME with TAG-byte tags and BLOCK-byte blocks
 * (512), with the internal hash HASH or none. Shared by the loader and the runner (stacks/crypt/crypt-tables.ts).
 */
export interface IntegrityPlaceholder {
  disk: string;
  tag: number;
  block: number;
  hash: string | undefined;
}

export function parseIntegrityPlaceholder(body: string): IntegrityPlaceholder | undefined {
  const m = body.match(/^integrity:([a-z][a-z0-9-]*):(\d+)(?::(\d+))?(?::([a-z0-9]+))?$/);
  if (!m) return undefined;
  return { disk: m[1]!, tag: Number(m[2]), block: m[3] ? Number(m[3]) : 512, hash: m[4] };
}
