import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import tmp from 'tmp';
import { InfraError, tail } from '../../harness/errors.ts';
import { cacheDir } from '../cache.ts';
import type { ResolvedKernel } from '../kernel/types.ts';
import { hostFiles, type HostFile } from './host-binaries.ts';
import { moduleName, readModulesDep, selectModules } from './modules.ts';

const INIT_SCRIPT = new URL('./init.sh', import.meta.url);
/** Bump when the image layout changes in a way the content hash cannot see. */
const LAYOUT_VERSION = '2';

export interface GuestTools {
  agent: string;
  io: string;
}

export interface GuestImage {
  path: string;
  /** Modules modprobed at boot. */
  modules: string[];
  fromCache: boolean;
  hash: string;
}

async function hashFile(h: ReturnType<typeof createHash>, path: string): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

interface Layout {
  files: HostFile[];
  /** Module files relative to lib/modules/<release>. */
  moduleFiles: string[];
  load: string[];
  busybox: string;
}

async function imageHash(kernel: ResolvedKernel, tools: GuestTools, layout: Layout): Promise<string> {
  const h = createHash('sha256');
  h.update(`layout ${LAYOUT_VERSION}\n`);
  h.update(await readFile(INIT_SCRIPT));
  for (const f of [layout.busybox, tools.agent, tools.io, ...layout.files.map((f) => f.hostPath)]) {
    h.update(`file ${f}\n`);
    await hashFile(h, f);
  }
  if (kernel.modulesRoot !== undefined) {
    const dir = join(kernel.modulesRoot, 'lib', 'modules', kernel.release!);
    for (const m of layout.moduleFiles) {
      h.update(`module ${m}\n`);
      await hashFile(h, join(dir, m));
    }
  }
  h.update(`load ${layout.load.join(' ')}\n`);
  return h.digest('hex').slice(0, 20);
}

async function copyInto(root: string, guestPath: string, hostPath: string, mode?: number): Promise<void> {
  const dst = join(root, guestPath);
  await mkdir(dirname(dst), { recursive: true });
  await copyFile(hostPath, dst);
  if (mode !== undefined) await chmod(dst, mode);
}

/**
 * Packs a directory as an uncompressed newc cpio archive, with sorted entries, uid/gid 0 and fixed mtimes.
 * Not compressed: under TCG the guest's gunzip of ~8 MB took seconds of every boot, while QEMU loads the
 * larger file from the host's page cache in no time.
 */
async function packCpio(root: string, out: string): Promise<void> {
  const list = await execa('find', ['.', '-mindepth', '1'], { cwd: root });
  const entries = list.stdout.split('\n').filter(Boolean).sort().join('\n') + '\n';
  await execa('find', ['.', '-exec', 'touch', '-h', '-d', '@0', '{}', '+'], { cwd: root });
  const cpio = await execa('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--reproducible', '--quiet'], {
    cwd: root, input: entries, encoding: 'buffer', reject: false,
  });
  if (cpio.exitCode !== 0) throw new InfraError(`cpio -o -H newc failed: ${tail(Buffer.from(cpio.stderr as Uint8Array))}`);
  await writeFile(out, Buffer.from(cpio.stdout as Uint8Array));
}

async function stage(root: string, kernel: ResolvedKernel, tools: GuestTools, layout: Layout): Promise<void> {
  await copyInto(root, '/bin/busybox', layout.busybox, 0o755);
  await copyInto(root, '/init', INIT_SCRIPT.pathname, 0o755);
  await copyInto(root, '/bin/ih-agent', tools.agent, 0o755);
  await copyInto(root, '/bin/ih-io', tools.io, 0o755);
  for (const f of layout.files) await copyInto(root, f.guestPath, f.hostPath);
  for (const tool of ['modprobe', 'insmod', 'rmmod', 'lsmod', 'modinfo', 'depmod']) {
    await symlink('kmod', join(root, 'sbin', tool));
  }
  await mkdir(join(root, 'etc', 'ih'), { recursive: true });
  await writeFile(join(root, 'etc', 'ih', 'modules'), layout.load.join('\n') + '\n');
  // ld.so finds the multiarch directory without a cache on Debian, but say it explicitly.
  await writeFile(join(root, 'etc', 'ld.so.conf'), '/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n');
  if (kernel.modulesRoot !== undefined && kernel.release !== undefined) {
    const src = join(kernel.modulesRoot, 'lib', 'modules', kernel.release);
    const dst = join(root, 'lib', 'modules', kernel.release);
    for (const m of layout.moduleFiles) await copyInto(dst, m, join(src, m));
    for (const meta of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
      if (existsSync(join(src, meta))) await copyInto(dst, meta, join(src, meta));
    }
    const r = await execa('depmod', ['-b', root, kernel.release], { reject: false });
    if (r.exitCode !== 0) throw new InfraError(`depmod -b ${root} ${kernel.release} failed: ${tail(r.stderr)}`);
  }
}

/** Test seams: an image that lacks what the kernel has, to prove the host notices. */
export interface ImageHooks {
  /** Module names (dm_integrity) whose files are left out, while init still loads them at boot. */
  omitModules?: string[];
}

/**
 * Builds (or reuses from the cache) the guest initramfs for a kernel: busybox, the cryptsetup tools and
 * their libraries, kmod as /sbin/modprobe, the kernel's device-mapper and crypto modules, the agent.
 */
export async function buildGuestImage(kernel: ResolvedKernel, tools: GuestTools, hooks: ImageHooks = {}): Promise<GuestImage> {
  const scratch = tmp.dirSync({ prefix: 'ih-image-', unsafeCleanup: true });
  try {
    let moduleFiles: string[] = [];
    let load: string[] = [];
    if (kernel.modulesRoot !== undefined) {
      if (kernel.release === undefined) throw new InfraError(`kernel ${kernel.spec}: modules given but release unknown`);
      const sel = selectModules(await readModulesDep(kernel.modulesRoot, kernel.release, scratch.name));
      const omit = new Set(hooks.omitModules ?? []);
      moduleFiles = sel.files.filter((f) => !omit.has(moduleName(f)));
      load = sel.load;
    }
    const busybox = '/bin/busybox';
    const layout: Layout = { files: await hostFiles(), moduleFiles, load, busybox };
    const hash = await imageHash(kernel, tools, layout);
    const path = cacheDir('images', `initramfs-${hash}.cpio`);
    if (existsSync(path)) return { path, modules: load, fromCache: true, hash };
    const root = join(scratch.name, 'root');
    await mkdir(root);
    await stage(root, kernel, tools, layout);
    await mkdir(dirname(path), { recursive: true });
    const partial = `${path}.tmp-${process.pid}`;
    await packCpio(root, partial);
    await execa('mv', [partial, path]);
    return { path, modules: load, fromCache: false, hash };
  } finally {
    scratch.removeCallback();
  }
}
