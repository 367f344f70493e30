import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuestTools } from './build.ts';
import { AgentClient, AgentTimeoutError } from './client.ts';

/** The real agent binary, driven over stdio on the host: the protocol, not the guest, is under test. */
describe('ih-agent over stdio', () => {
  let proc: ReturnType<typeof execa>;
  let client: AgentClient;
  const dir = mkdtempSync(join(tmpdir(), 'ih-agent-test-'));

  beforeAll(async () => {
    writeFileSync(join(dir, 'kmsg'), '');
    const tools = await buildGuestTools(join(dir, 'cache'));
    proc = execa(tools.agent, ['--stdio', '--kmsg', join(dir, 'kmsg')], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, encoding: 'buffer' });
    client = new AgentClient(proc.stdout!, proc.stdin!);
    await client.waitReady(10_000);
  }, 120_000);
  afterAll(async () => {
    proc.kill('SIGKILL');
    await proc;
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns exit status, stdout and stderr exactly, binary-safe', async () => {
    const r = await client.exec(['sh', '-c', 'printf "a\\0b"; echo err >&2; exit 7']);
    expect(r.exitCode).toBe(7);
    expect([...r.stdout]).toEqual([0x61, 0, 0x62]);
    expect(r.stderr.toString()).toBe('err\n');
  });
  it('feeds stdin to the command', async () => {
    const r = await client.exec(['cat'], { stdin: Buffer.from('payload') });
    expect(r.stdout.toString()).toBe('payload');
  });
  it('reports a missing program as exit 127 with its errno, not as a hang', async () => {
    const r = await client.exec(['/nonexistent/program']);
    expect(r.exitCode).toBe(127);
    expect(r.execErrno).not.toBeNull();
  });
  it('times out on the host side when a command does not answer', async () => {
    await expect(client.exec(['sleep', '5'], { timeoutMs: 300 })).rejects.toBeInstanceOf(AgentTimeoutError);
  });
  it('writes kmsg markers', async () => {
    await client.kmsg('ih: step 1 read');
    const r = await client.exec(['cat', join(dir, 'kmsg')]);
    expect(r.stdout.toString()).toContain('ih: step 1 read');
  });
});
