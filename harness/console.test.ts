import { describe, expect, it } from 'vitest';
import { normaliseHead, scanConsole, userFaults } from './console.ts';

const OOPS = `[    5.10] ih: step 5 read
[    5.33] BUG: kernel NULL pointer dereference, address: 0000000000000000
[    5.33] #PF: supervisor read access in kernel mode
[    5.34] Oops: 0000 [#1] PREEMPT SMP NOPTI
[    5.34] CPU: 0 PID: 37 Comm: kworker/0:1H Not tainted 6.1.0 #1
[    5.34] Workqueue: kintegrityd bio_integrity_verify_fn
[    5.34] RIP: 0010:bio_integrity_verify_fn+0x2a/0x60
[    5.35] Kernel panic - not syncing: Fatal exception
`;

describe('scanConsole', () => {
  it('finds nothing in a clean boot', () => {
    expect(scanConsole('[0.0] Linux version 6.1\n[1.0] ih-init: starting agent\n')).toBeUndefined();
  });
  it('turns an oops into a crash with a signature free of addresses and offsets', () => {
    const f = scanConsole(OOPS)!;
    expect(f.kind).toBe('crash');
    expect(f.line).toMatch(/^BUG: kernel NULL pointer dereference/);
    expect(f.signature).toBe('BUG: kernel NULL pointer dereference @ bio_integrity_verify_fn');
    expect(f.excerpt).toContain('RIP: 0010:bio_integrity_verify_fn');
  });
  it('gives the same signature for the same oops at other addresses', () => {
    const other = OOPS.replace('+0x2a/0x60', '+0x31/0x70').replace('0000000000000000', '0000000000000008');
    expect(scanConsole(other)!.signature).toBe(scanConsole(OOPS)!.signature);
  });
  it('blames a dead init on the harness, not the kernel', () => {
    const f = scanConsole('[1.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n')!;
    expect(f.kind).toBe('infra');
  });
  it('still blames the kernel when it crashed before init died', () => {
    const f = scanConsole(`${OOPS}[6.0] Kernel panic - not syncing: Attempted to kill init!\n`)!;
    expect(f.kind).toBe('crash');
  });
  it('promotes WARNINGs and hung tasks to crashes', () => {
    expect(scanConsole('[1] WARNING: CPU: 0 PID: 1 at block/bio.c:100 bio_endio+0x1/0x2\n')!.kind).toBe('crash');
    expect(scanConsole('[1] INFO: task kworker:12 blocked for more than 30 seconds.\n')!.kind).toBe('crash');
  });
});

describe('a call through a NULL function pointer', () => {
  it('is signed with the calling function from the call trace', () => {
    const text = `[5.16] BUG: kernel NULL pointer dereference, address: 0000000000000000
[5.16] Workqueue: kintegrityd bio_integrity_verify_fn
[5.16] RIP: 0010:0x0
[5.16] Call Trace:
[5.16]  <TASK>
[5.16]  ? __die+0x1/0x2
[5.16]  bio_integrity_process+0x135/0x18f
[5.16]  bio_integrity_verify_fn+0x3c/0x50
[5.16]  </TASK>
`;
    expect(scanConsole(text)!.signature).toBe('BUG: kernel NULL pointer dereference @ bio_integrity_process');
    // as QEMU's serial console writes it
    expect(scanConsole(text.replaceAll('\n', '\r\n'))!.signature).toBe('BUG: kernel NULL pointer dereference @ bio_integrity_process');
  });
});

describe('normaliseHead', () => {
  it('keeps the oops type and drops what varies', () => {
    expect(normaliseHead('WARNING: CPU: 1 PID: 233 at block/bio-integrity.c:120 bio_integrity_free+0x90/0xa0')).toBe('WARNING: CPU PID');
    expect(normaliseHead('general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] SMP')).toBe(
      'general protection fault, probably for non-canonical address: 0000',
    );
  });
});

describe('user-process faults', () => {
  const USER = `[   12.1] traps: ih-io[93] general protection fault ip:4011a2 sp:7ffd1c2e8a10 error:0 in ih-io[401000+9a000]
[   12.2] sh[94]: segfault at 7ffd1c1e7ff8 ip 000000000041b2c3 sp 00007ffd1c1e8000 error 6 in busybox[401000+e1000] likely on CPU 0
`;
  it('are no kernel crash, and are listed as evidence', () => {
    expect(scanConsole(USER)).toBeUndefined();
    expect(userFaults(USER)).toEqual([
      '[   12.1] traps: ih-io[93] general protection fault ip:4011a2 sp:7ffd1c2e8a10 error:0 in ih-io[401000+9a000]',
      '[   12.2] sh[94]: segfault at 7ffd1c1e7ff8 ip 000000000041b2c3 sp 00007ffd1c1e8000 error 6 in busybox[401000+e1000] likely on CPU 0',
    ]);
  });
  it('do not hide a kernel general protection fault after them', () => {
    const f = scanConsole(`${USER}[   13.0] general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP NOPTI\n[   13.0] RIP: 0010:dm_integrity_map+0x12/0x40\n`)!;
    expect(f.kind).toBe('crash');
    expect(f.signature).toBe('general protection fault, probably for non-canonical address: 0000 @ dm_integrity_map');
  });
});
