/**
 * The wire format of PROTOCOL.md: a header line "IH1 <type> <id> <lengths> [key=value ...]\n" followed by
 * the payloads whose byte lengths the header declares. Encoding here, incremental decoding in FrameReader.
 */

export const MAX_HEADER_BYTES = 4096;
const MAGIC = 'IH1';

export interface Frame {
  type: string;
  id: string;
  fields: ReadonlyMap<string, string>;
  payloads: Buffer[];
}

/** Bytes the header declares are missing or malformed: the stream cannot be trusted past this point. */
export class FrameError extends Error {
  override name = 'FrameError';
}

export function encodeFrame(
  type: string,
  id: string,
  payloads: Buffer[],
  fields: Record<string, string | number> = {},
): Buffer {
  const lengths = payloads.length === 0 ? '-' : payloads.map((p) => p.length).join(',');
  const extra = Object.entries(fields).map(([k, v]) => ` ${k}=${v}`);
  const header = `${MAGIC} ${type} ${id} ${lengths}${extra.join('')}\n`;
  // Tokens are space-separated: anything with whitespace (or '=' in a key) belongs in a payload.
  const badToken = [type, id, ...Object.entries(fields).flatMap(([k, v]) => [k.includes('=') ? ' ' : k, String(v)])].find(
    (t) => !/^[\x21-\x7e]+$/.test(t),
  );
  if (badToken !== undefined || header.length > MAX_HEADER_BYTES) {
    throw new FrameError(`cannot encode frame header ${JSON.stringify(header)}`);
  }
  return Buffer.concat([Buffer.from(header, 'latin1'), ...payloads]);
}

/** A FIFO of received chunks that copies each byte once when a frame is taken out. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Up to n bytes from the front, without removing them. */
  peek(n: number): Buffer {
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      if (got >= n) break;
      parts.push(c.subarray(0, n - got));
      got += Math.min(c.length, n - got);
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - got);
      c.copy(out, got, 0, k);
      got += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.length -= n;
    return out;
  }
}

/**
 * Decodes frames from arbitrary chunk boundaries. Until the first `ready` frame it skips anything else
 * (a console message, line noise), because the agent's stream may start dirty; after that any byte that
 * is not a valid header where one must be is a FrameError.
 */
export class FrameReader {
  private queue = new ByteQueue();
  private synced = false;
  private pending?: { type: string; id: string; fields: Map<string, string>; lengths: number[]; total: number };

  push(chunk: Buffer): void {
    this.queue.push(chunk);
  }

  /** The next complete frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (!this.synced && !this.skipToReady()) return undefined;
    if (this.pending === undefined) {
      const head = this.queue.peek(MAX_HEADER_BYTES + 1);
      const nl = head.indexOf(0x0a);
      if (nl < 0) {
        if (head.length > MAX_HEADER_BYTES) throw new FrameError(`header line longer than ${MAX_HEADER_BYTES} bytes`);
        return undefined;
      }
      this.pending = parseHeader(this.queue.take(nl + 1).subarray(0, nl).toString('latin1'));
    }
    const p = this.pending;
    if (this.queue.length < p.total) return undefined;
    this.pending = undefined;
    const payloads = p.lengths.map((n) => this.queue.take(n));
    return { type: p.type, id: p.id, fields: p.fields, payloads };
  }

  private skipToReady(): boolean {
    const marker = Buffer.from(`${MAGIC} ready `);
    // Garbage can be long and without newlines: search what we have, then keep only a marker-sized tail.
    const all = this.queue.peek(this.queue.length);
    const at = all.indexOf(marker);
    if (at < 0) {
      const keep = Math.min(all.length, marker.length - 1);
      this.queue.take(all.length - keep);
      return false;
    }
    this.queue.take(at);
    this.synced = true;
    return true;
  }
}

function parseHeader(line: string): {
  type: string;
  id: string;
  fields: Map<string, string>;
  lengths: number[];
  total: number;
} {
  const tokens = line.split(' ');
  const [magic, type, id, lens] = tokens;
  if (magic !== MAGIC || !type || !id || !lens) {
    throw new FrameError(`expected a frame header "${MAGIC} <type> <id> <lengths> ...", got ${JSON.stringify(line.slice(0, 200))}`);
  }
  const lengths = lens === '-' ? [] : lens.split(',').map((s) => (/^\d{1,12}$/.test(s) ? Number(s) : NaN));
  if (lengths.some((n) => Number.isNaN(n))) throw new FrameError(`bad payload lengths in header ${JSON.stringify(line)}`);
  const fields = new Map<string, string>();
  for (const t of tokens.slice(4)) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new FrameError(`bad field ${JSON.stringify(t)} in header ${JSON.stringify(line)}`);
    fields.set(t.slice(0, eq), t.slice(eq + 1));
  }
  return { type, id, fields, lengths, total: lengths.reduce((a, b) => a + b, 0) };
}
