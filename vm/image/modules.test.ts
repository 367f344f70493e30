import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseModulesDep, readModulesDep, selectModules, shippedOnDemand } from './modules.ts';

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

  it('ships the blake2b and xxhash64 hashes Debian builds as modules, with a kernel/lib dependency where there is one', () => {
    const deps = parseModulesDep([
      'kernel/crypto/blake2b_generic.ko:', 'kernel/crypto/xxhash_generic.ko: kernel/lib/xxhash.ko', 'kernel/lib/xxhash.ko:',
    ].join('\n'));
    expect(selectModules(deps).files).toEqual(['kernel/crypto/blake2b_generic.ko', 'kernel/crypto/xxhash_generic.ko', 'kernel/lib/xxhash.ko']);
  });
});

describe('readModulesDep', () => {
  const saved = process.env.IH_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.IH_CACHE_DIR;
    else process.env.IH_CACHE_DIR = saved;
  });

  it('runs depmod on a scratch root once per tree content, never in the tree, and reuses its answer', async () => {
    process.env.IH_CACHE_DIR = mkdtempSync(join(tmpdir(), 'ih-moddep-cache-'));
    const root = mkdtempSync(join(tmpdir(), 'ih-moddep-tree-'));
    const tree = join(root, 'lib', 'modules', '6.1.0-test');
    mkdirSync(join(tree, 'kernel'), { recursive: true });
    writeFileSync(join(tree, 'modules.order'), '');
    const scratch = () => mkdtempSync(join(tmpdir(), 'ih-moddep-scratch-'));
    const s1 = scratch();
    expect(await readModulesDep(root, '6.1.0-test', s1)).toEqual(new Map());
    expect(existsSync(join(s1, 'depmod')), 'the first call runs depmod').toBe(true);
    expect(existsSync(join(tree, 'modules.dep')), 'the tree is not written').toBe(false);
    const s2 = scratch();
    await readModulesDep(root, '6.1.0-test', s2);
    expect(existsSync(join(s2, 'depmod')), 'the second comes from the cache').toBe(false);
    writeFileSync(join(tree, 'modules.order'), 'kernel/x.ko\n');
    const s3 = scratch();
    await readModulesDep(root, '6.1.0-test', s3);
    expect(existsSync(join(s3, 'depmod')), 'a changed tree runs depmod again').toBe(true);
  });
});
