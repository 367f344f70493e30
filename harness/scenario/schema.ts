import { z } from 'zod';
import { cryptAeadStackSchema } from '../stacks/crypt/crypt-schema.ts';
import { luks2StackSchema } from '../stacks/crypt/luks-schema.ts';
import { integrityStackSchema } from '../stacks/integrity/integrity-schema.ts';
import { name, size } from './fields.ts';

/** "6.1", "6.1.90", "1.10.0": dotted numbers, compared numerically. */
const version = z.string().regex(/^\d+(\.\d+){0,2}$/, 'expected a version like "6.1" or "1.10.0"');

export const diskSchema = z.strictObject({
  name,
  /** Bytes the guest sees (on an NVMe disk, the namespace's data; its metadata is stored after it). */
  size,
  /** The disk's logical (and physical) block size as the guest sees it: 4096 models 4Kn drives. */
  logicalBlockSize: z.union([z.literal(512), z.literal(4096)]).default(512),
  /**
   * An NVMe namespace instead of a virtio disk, with 8 bytes of metadata per logical block in a separate
   * buffer: `pi: 1` or `3` is T10 protection information (the kernel generates and verifies a CRC guard
   * on every bio: bio_integrity_prep), `pi: 0` metadata without protection (a no-op integrity profile).
   */
  nvme: z.strictObject({
    pi: z.union([z.literal(0), z.literal(1), z.literal(3)]),
    /** the block layer verifies (read_verify) and generates (write_generate) the metadata itself; false turns it off in sysfs */
    readVerify: z.boolean().default(true),
    writeGenerate: z.boolean().default(true),
  }).optional(),
});

export const stackSchema = z.discriminatedUnion('type', [integrityStackSchema, cryptAeadStackSchema, luks2StackSchema]);

/** An I/O range on the top device of the stack. `bs: block` means one I/O per integrity block. */
const ioRange = z.strictObject({
  offset: size,
  length: size,
  bs: z.union([z.literal('block'), size]).default('block'),
  /** The range is deliberately not aligned to the stack's sector size: issued as one O_DIRECT I/O. */
  unaligned: z.boolean().default(false),
  /** Chunks are issued concurrently by this many processes (ih-io --procs). */
  procs: z.number().int().min(2).max(64).optional(),
  /** Writes use O_DSYNC, so each is a FUA write (or write + flush). */
  fua: z.boolean().default(false),
  /**
   * Each I/O is one preadv/pwritev of up to this many pieces of varied sizes, each block-aligned at its own
   * place in memory but not page-aligned (ih-io --iov): bios of many bvecs that start mid-page.
   */
  iovecs: z.number().int().min(2).max(16).optional(),
  /**
   * Writes only: through the page cache (no O_DIRECT), then fsync, so writeback builds the bios. Reads stay
   * O_DIRECT: the page cache would return what it holds instead of what the device says.
   */
  buffered: z.boolean().default(false),
});

const corrupt = z.strictObject({
  /** Block indices on the top device (in units of the stack's sector size). */
  blocks: z.array(z.number().int().nonnegative()).min(1),
  /** `iv`: the IV in a dm-crypt AEAD tuple (crypt-aead and luks2 stacks only); `tag` there is the auth tag. */
  where: z.enum(['data', 'tag', 'iv']).default('data'),
  /** Which byte of the block's data or tag to flip (integrity stacks): e.g. a tag's zero padding past the digest. */
  byte: z.number().int().nonnegative().default(0),
});

/* Host-side faults beyond `corrupt`, on the raw images of a closed stack; offsets come from the model. */
const blockIndex = z.number().int().nonnegative();
/** Exchange two blocks' data and their tags: each is intact but in the wrong place. */
const swap = z.strictObject({ blocks: z.tuple([blockIndex, blockIndex]) });
/** Flip one byte of a superblock field. */
const corruptSuperblock = z.strictObject({ field: z.enum(['magic', 'version', 'interleave', 'tag-size']) });
/** Flip one byte of the journal: in a data sector, or in a sector's commit id. */
const corruptJournal = z.strictObject({ where: z.enum(['data', 'commit-id']) });
/** One operation of a crash workload on the top device; the runner marks the log after each. */
const crashWrite = z.strictObject({
  offset: size,
  length: size,
  bs: z.union([z.literal('block'), size]).default('block'),
  /** Each I/O is a FUA write (O_DSYNC). */
  fua: z.boolean().default(false),
  /** Concurrent I/Os, chunks handed out in offset order. */
  jobs: z.number().int().min(1).max(64).default(1),
});

/**
 * One raw table for `dmsetup create`: the integrity target's arguments ("<dev> <offset> <tag_size> <mode>
 * <#opts> <opts...>"), where {disk:NAME} is a declared disk's device, {disk:NAME:N} a dm-linear device of its
 * first N sectors, {error:N} a dm-error device of N sectors and {missing} a path that names no device. The
 * model (harness/model/integrity/ctr.ts) says whether the kernel accepts it; the scenario never does.
 */
const tableTry = z.strictObject({
  args: z.string().trim().min(1),
  /** The table's length in sectors; default: what the model says the target provides (8 when it refuses). */
  length: z.number().int().positive().optional(),
  /**
   * An accepted table is then left as a crash would leave it: the host saves the first 64 KiB of its superblock
   * disk (superblock, and in bitmap mode the bitmap) while the target is live and puts them back once it is
   * removed, so the next table finds e.g. a dirty bitmap (dm_integrity_resume()'s recovery paths).
   */
  crash: z.boolean().default(false),
});

export const crashOpSchema = z.union([z.strictObject({ write: crashWrite }), z.literal('flush')]);

/** Records the workload with dm-log-writes beneath the stack, then checks the stack at crash points. */
const crash = z.strictObject({
  /** The disk that holds the dm-log-writes log. */
  log: name,
  workload: z.array(crashOpSchema).min(1),
  /** Torn crash points (a prefix of the writes since the last flush/FUA) sampled besides every flush/FUA point. */
  torn: z.number().int().nonnegative().default(16),
  /** Reordered crash points (another subset of those writes: a volatile cache persists them in any order) sampled too. */
  reordered: z.number().int().nonnegative().default(0),
});

/**
 * The blunt crash: runs the workload on the open stack, SIGKILLs QEMU during one of its writes, boots a
 * fresh guest on the same disks and checks the reopened stack (harness/crash/steps/crash-kill.ts).
 */
const kill = z.strictObject({
  workload: z.array(crashOpSchema).min(1),
  /** Picks the write during which QEMU dies and the delay into it (harness/crash/kill-point.ts); reported. */
  seed: z.number().int().nonnegative(),
  /** The delay after the host sends that write, in ms: drawn from [minDelay, maxDelay). */
  minDelay: z.number().int().nonnegative().default(0),
  maxDelay: z.number().int().positive().default(2000),
});

const churnCycle = z.strictObject({
  /** dmsetup suspend's flags: none, --noflush, --nolockfs or both */
  suspend: z.enum(['default', 'noflush', 'nolockfs', 'noflush,nolockfs']).default('default'),
  /** between suspend and resume: no reload (the same target instance resumes), the device's own table, or a tuned one (session/tuned-table.ts) */
  reload: z.enum(['none', 'same', 'tuned']).default('none'),
});

/**
 * While the race runs, its device is suspended, held `holdMs`, optionally reloaded and resumed, then left
 * active `gapMs`, cycle after cycle (cycle k as `cycles[k % cycles.length]`) until every racer is done and every
 * cycle ran once; each dmsetup command's times and exit status are observations (model/integrity/race-churn.ts
 * judges them).
 * `device`: the stack's top device, or (crypt-aead) the dm-integrity device beneath dm-crypt.
 */
const churn = z.strictObject({
  device: z.enum(['top', 'integrity']).default('top'),
  cycles: z.array(churnCycle).min(1).max(8),
  holdMs: z.number().int().min(0).max(2000).default(20),
  gapMs: z.number().int().min(0).max(2000).default(50),
});

/**
 * Overlapping reads and writes on a small hot range of the top device, at once: `procs` processes each issue
 * `ops` I/Os of 1 to `maxBlocks` blocks at random block offsets of the range (ih-io race, vm/agent/io-race.c),
 * with up to `qd` of them in flight per process (Linux native AIO). Every written sector names its write; the
 * model (harness/model/integrity/race.ts) judges what each read saw from the I/Os' times, then adopts what
 * the range holds once every writer is done.
 */
const race = z.strictObject({
  offset: size,
  length: size,
  procs: z.number().int().min(1).max(16).default(4),
  ops: z.number().int().min(1).max(5000).default(200),
  qd: z.number().int().min(1).max(64).default(8),
  maxBlocks: z.number().int().min(1).max(256).default(8),
  writePercent: z.number().int().min(0).max(100).default(50),
  /** draws every I/O's kind, place and size: the same seed issues the same I/Os (their timing is the kernel's) */
  seed: z.number().int().nonnegative().max(2 ** 32 - 1).default(1),
  churn: churn.optional(),
});

/**
 * O_DIRECT writes of a buffer that a second thread keeps rewriting until each write completes (ih-io unstable,
 * vm/agent/io-race.c): `writes` writes of `writeBlocks` blocks each, in turn over the range, each block read
 * back alone after its write. The model (harness/model/integrity/unstable.ts) says per stack whether such a
 * block may read back EILSEQ and which bytes it may hold, then adopts what the range holds.
 */
const unstable = z.strictObject({
  offset: size,
  length: size,
  writes: z.number().int().min(1).max(5000).default(64),
  writeBlocks: z.number().int().min(1).max(256).default(1),
});

export const stepSchema = z.union([
  z.strictObject({ write: ioRange }),
  z.strictObject({ read: ioRange }),
  z.strictObject({ discard: z.strictObject({ offset: size, length: size }) }),
  z.strictObject({ race }),
  z.strictObject({ unstable }),
  z.strictObject({ corrupt }),
  z.strictObject({ swap }),
  z.strictObject({ corruptSuperblock }),
  z.strictObject({ corruptJournal }),
  /** From now on the lower device fails these blocks' data sectors with EIO (dm-error in the dm-linear device). */
  z.strictObject({ ioError: z.strictObject({ blocks: z.array(blockIndex).min(1) }) }),
  /** Loads each table with dmsetup and removes what the kernel accepted; the stack must be closed. */
  z.strictObject({ tables: z.array(tableTry).min(1) }),
  /**
   * dm-linear devices over declared disks put end to end, each read for the integrity profile device-mapper
   * stacks from them, and optionally reloaded onto other disks and read again (harness/model/integrity/profile-stack.ts).
   */
  z.strictObject({ profiles: z.array(z.strictObject({ linear: z.array(name).min(1), reload: z.array(name).min(1).optional() })).min(1) }),
  z.strictObject({ crash }),
  z.strictObject({ kill }),
  z.literal('close'),
  z.literal('open'),
  /**
   * Integrity stacks: open in another mode (integritysetup open's mode flag), which later opens keep. Recovery
   * mode (--integrity-recovery-mode, table mode R: no journal replay, no tag checks, reads only) lasts one
   * open: the next plain open goes back to the mode the stack had before it.
   */
  z.strictObject({ open: z.strictObject({ mode: z.enum(['journal', 'bitmap', 'direct', 'recovery']) }) }),
  z.literal('status'),
  z.literal('flush'),
  /** The top device's table loaded again under it (dmsetup suspend, reload, resume): a new target instance. */
  z.literal('reload'),
  /** The top device suspended and resumed (postsuspend flushes the journal; resume replays nothing). */
  z.literal('suspend'),
]);

export const requiresSchema = z
  .strictObject({
    /** Device-mapper targets that must be listed by `dmsetup targets` (e.g. integrity, crypt). */
    targets: z.array(z.string()).default([]),
    /** Minimum kernel version (the upstream version: Debian's package version, else `uname -r`). */
    kernel: version.optional(),
    /** Minimum target versions as `dmsetup targets` prints them, e.g. { integrity: "1.10.0" }. */
    targetVersions: z.record(z.string(), version).default({}),
    /** Algorithms that must be in /proc/crypto once instantiated, e.g. "hmac(sha256)". */
    crypto: z.array(z.string().min(1)).default([]),
    /** Options a program's --help must list, e.g. { integritysetup: ["--integrity-bitmap-mode"] }. */
    toolOptions: z.record(z.string(), z.array(z.string().regex(/^--?[a-z0-9-]+$/, 'expected an option like "--allow-discards"'))).default({}),
  })
  .default({ targets: [], targetVersions: {}, crypto: [], toolOptions: {} });

/**
 * Why a scenario is left out of the default library (blktests' QUICK_RUN): one line, e.g. "replays ~100 crash
 * points: 1-15 min under TCG". Slow scenarios run with --slow or when a --scenario glob names them.
 */
const SLOW_HINT = 'expected a one-line reason why the scenario is slow, e.g. "replays every crash point: minutes under TCG"';
export const slowSchema = z.string({ error: (i) => `${SLOW_HINT}; got ${JSON.stringify(i.input)}` })
  .trim()
  .min(10, SLOW_HINT)
  .refine((t) => !/[\r\n]/.test(t), 'the reason must be one line');

export const scenarioSchema = z.strictObject({
  description: z.string().min(10, 'one sentence saying what the scenario does'),
  slow: slowSchema.optional(),
  requires: requiresSchema,
  disks: z.array(diskSchema).min(1),
  stack: stackSchema,
  steps: z.array(stepSchema).min(1),
  /**
   * The guest's vCPUs at the least, for a scenario whose processes must really run at once (a race); the
   * command line's --cpus raises it, never lowers it. Guests share only with the same count.
   */
  cpus: z.number().int().min(1).max(8).optional(),
  /** Seconds one guest step may take before the cell is a `hang`. */
  stepTimeout: z.number().positive().default(60),
});

export type ScenarioBody = z.infer<typeof scenarioSchema>;
export type Step = z.infer<typeof stepSchema>;
export type ScenarioDisk = z.infer<typeof diskSchema>;
export type IoRange = z.infer<typeof ioRange>;
export type Corruption = z.infer<typeof corrupt>;
/** Every host-side fault step's body, keyed by its step name. */
export type HostFault =
  | { corrupt: Corruption }
  | { swap: z.infer<typeof swap> }
  | { corruptSuperblock: z.infer<typeof corruptSuperblock> }
  | { corruptJournal: z.infer<typeof corruptJournal> };
export type Requirements = z.infer<typeof requiresSchema>;
export type CrashStep = z.infer<typeof crash>;
export type CrashOp = z.infer<typeof crashOpSchema>;
export type KillStep = z.infer<typeof kill>;
export type TableTry = z.infer<typeof tableTry>;
export type RaceStep = z.infer<typeof race>;
export type RaceChurnSpec = z.infer<typeof churn>;
export type UnstableStep = z.infer<typeof unstable>;
