// A stand-in for the public archives, for tests: serves a directory on 127.0.0.1 with the archives' URL
// layout, directory listings like Apache's autoindex, Range requests, and faults on request (a connection
// dropped mid-body once, a path answered with other bytes).
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface MirrorServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Requests seen: path and Range header. */
  requests: { path: string; range?: string }[];
  /** Path -> bytes after which the next response to it is cut off (the connection destroyed); used once. */
  dropOnce: Map<string, number>;
  /** like dropOnce, for every request of the path: each response is cut after that many bytes */
  dropAlways: Map<string, number>;
  close(): Promise<void>;
}

async function listing(dir: string, path: string, res: ServerResponse): Promise<void> {
  const names = (await fs.readdir(dir, { withFileTypes: true })).map((d) => (d.isDirectory() ? `${d.name}/` : d.name)).sort();
  const rows = names.map((n) => `<tr><td><a href="${encodeURI(n)}">${n}</a></td></tr>`).join('\n');
  res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><head><title>Index of ${path}</title></head><body><table>\n${rows}\n</table></body></html>\n`);
}

function serve(root: string, server: MirrorServer) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    server.requests.push({ path, ...(req.headers.range !== undefined ? { range: req.headers.range } : {}) });
    const file = join(root, normalize(path));
    if (!file.startsWith(root)) return void res.writeHead(403).end();
    const st = await fs.stat(file).catch(() => undefined);
    if (st === undefined) return void res.writeHead(404).end('not found\n');
    if (st.isDirectory()) return listing(file, path, res);
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m !== null) {
      start = Number(m[1]);
      if (start >= st.size) return void res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
      res.writeHead(206, { 'content-length': st.size - start, 'content-range': `bytes ${start}-${st.size - 1}/${st.size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': st.size, 'accept-ranges': 'bytes' });
    }
    const drop = server.dropOnce.get(path) ?? server.dropAlways.get(path);
    if (drop !== undefined) {
      server.dropOnce.delete(path);
      const stream = createReadStream(file, { start, end: start + drop - 1 });
      stream.on('data', (c) => res.write(c));
      stream.on('end', () => res.socket?.destroy());
      return;
    }
    createReadStream(file, { start }).pipe(res);
  };
}

export async function startMirrorServer(root: string): Promise<MirrorServer> {
  const server: MirrorServer = { url: '', requests: [], dropOnce: new Map(), dropAlways: new Map(), close: async () => undefined };
  const http = createServer((req, res) => void serve(root, server)(req, res));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  server.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  server.close = () => new Promise((resolve) => {
    http.closeAllConnections();
    http.close(() => resolve());
  });
  return server;
}
