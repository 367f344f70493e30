/**
 * The QMP client against a stand-in server on a unix socket that answers as QEMU 7.2 does: the greeting,
 * qmp_capabilities, query-status of a VM paused on an I/O error, query-block with the failed image, and the
 * events QEMU sends unasked (BLOCK_IO_ERROR, STOP, SHUTDOWN).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from './qmp.ts';

let server: Server | undefined;
afterEach(() => server?.close());

function fakeQemu(path: string): Promise<void> {
  server = createServer((sock) => {
    sock.write('{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}}, "capabilities": []}}\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl)) as { execute: string; id: string };
        buf = buf.slice(nl + 1);
        if (req.execute === 'qmp_capabilities') {
          sock.write(`{"return": {}, "id": "${req.id}"}\r\n`);
          sock.write('{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "BLOCK_IO_ERROR", "data": {"device": "disk2", "nospace": true, "node-name": "#block123", "reason": "No space left on device", "operation": "write", "action": "stop"}}\r\n');
          sock.write('{"timestamp": {"seconds": 1, "microseconds": 3}, "event": "STOP"}\r\n');
        } else if (req.execute === 'query-status') {
          sock.write(`{"return": {"status": "io-error", "singlestep": false, "running": false}, "id": "${req.id}"}\r\n`);
        } else if (req.execute === 'query-block') {
          sock.write(`{"return": [{"io-status": "ok", "device": "disk0", "inserted": {"file": "/r/data.img"}}, {"io-status": "nospace", "device": "disk2", "inserted": {"file": "/r/out.img"}}], "id": "${req.id}"}\r\n`);
        } else {
          sock.write(`{"error": {"class": "CommandNotFound", "desc": "The command ${req.execute} has not been found"}, "id": "${req.id}"}\r\n`);
        }
      }
    });
  });
  return new Promise((r) => server!.listen(path, r));
}

describe('QmpClient', () => {
  it('reads a VM paused on a host ENOSPC: its status, the failed image and the event', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ih-qmp-test-')), 'qmp.sock');
    const connecting = QmpClient.connect(path, 5_000); // before the server listens, as QEMU may still be starting
    await new Promise((r) => setTimeout(r, 120));
    await fakeQemu(path);
    const c = await connecting;
    expect(await c.status(1000)).toEqual({ running: false, status: 'io-error' });
    expect((await c.blockDevices(1000)).filter((d) => d.ioStatus !== 'ok')).toEqual([{ device: 'disk2', file: '/r/out.img', ioStatus: 'nospace' }]);
    expect(c.events.map((e) => e.event)).toEqual(['BLOCK_IO_ERROR', 'STOP']);
    expect(c.events[0]!.data).toMatchObject({ nospace: true, reason: 'No space left on device' });
    await expect(c.command('no-such', undefined, 1000)).rejects.toThrow(/CommandNotFound/);
    c.close();
  });

  it('gives up when QEMU is gone before its socket answers', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'ih-qmp-test-')), 'qmp.sock');
    await expect(QmpClient.connect(path, 10_000, () => true)).rejects.toThrow(/QEMU ended before its QMP socket/);
  });
});
