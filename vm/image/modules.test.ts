import { describe, expect, it } from 'vitest';
import { parseModulesDep, selectModules, shippedOnDemand } from './modules.ts';

describe('selectModules', () => {
  it('ships crypto and CRC modules with their dependencies, not the test modules of kernel/lib', () => {
    expect(shippedOnDemand('kernel/crypto/gcm.ko')).toBe(true);
    expect(shippedOnDemand('kernel/lib/libcrc32c.ko')).toBe(true);
    expect(shippedOnDemand('kernel/lib/crc-t10dif.ko.xz')).toBe(true);
    expect(shippedOnDemand('kernel/lib/test_bpf.ko')).toBe(false);
    expect(shippedOnDemand('kernel/crypto/tcrypt.ko')).toBe(false);
    expect(shippedOnDemand('kernel/lib/raid6/raid6_pq.ko')).toBe(false);
    const deps = parseModulesDep([
      'kernel/drivers/md/dm-integrity.ko: kernel/crypto/async_tx/async_xor.ko kernel/lib/raid6/raid6_pq.ko',
      'kernel/crypto/async_tx/async_xor.ko:', 'kernel/lib/raid6/raid6_pq.ko:', 'kernel/lib/test_bpf.ko:', 'kernel/lib/crc8.ko:',
    ].join('\n'));
    const sel = selectModules(deps);
    expect(sel.load).toEqual(['dm_integrity']);
    expect(sel.files).toEqual(['kernel/crypto/async_tx/async_xor.ko', 'kernel/drivers/md/dm-integrity.ko', 'kernel/lib/crc8.ko', 'kernel/lib/raid6/raid6_pq.ko']);
  });
});
