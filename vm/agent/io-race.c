/*
 * ih-io race: several processes hammer a small hot range of a block device with overlapping O_DIRECT reads
 * and writes of varied sizes and offsets, each process keeping up to --qd of them in flight through Linux
 * native AIO (io_setup/io_submit/io_getevents as raw system calls: the initramfs ships no libaio, and the
 * syscalls need none). Where the kernel has no AIO (io_setup fails) each process issues one pread/pwrite at
 * a time instead, and the summary says which engine ran.
 *
 * Every 512-byte sector a write carries names it: the race's tag, the writer, the writer's sequence number
 * and the sector's own address, then bytes derived from those four (race_fill; the host's twin is
 * harness/model/integrity/race-payload.ts). A read reports per sector which write it saw ("w.s"), that it
 * still holds what the range held before the race ("p", compared with the read made before any writer
 * started), or, for anything else, a hash of its bytes ("h<fnv1a-64>"). Each I/O carries its submit and
 * completion times (CLOCK_MONOTONIC, shared by all processes), so the host's model can tell which versions
 * were legal for it. After every writer is done, one process reads the whole range again ("final").
 *
 * With --churn-dev, one more process suspends, reloads and resumes that device-mapper device while the racers
 * run (dmsetup, forked and waited for: "churn"), cycle after cycle until every racer is done (and each cycle
 * at least once), each cycle as one --churn-cycle says: the suspend's flags and which --churn-table it loads
 * ("-": none, the same target instance resumes). Each dmsetup command's times (the same clock as the I/Os') and exit status are a "dm"
 * line, so the host can tell which I/Os met a suspended device. Racers keep every slot busy, so their I/Os
 * are seldom submitted after a suspend returned (their slots fill while it drains): the churn submits a
 * write and a read of its own ("probes", writer procs+1) once each suspend has returned, which the device
 * must hold until the resume and then complete.
 *
 * Output: JSON lines, one per I/O ("rw" write, "rr" read), "initial", "dm" lines, "final", then "race-summary".
 * Exit: 0 every I/O succeeded, 1 some failed, 2 usage error, 3 setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RACE_MAX_PROCS 16
#define RACE_MAX_QD 64
#define CHURN_MAX_TABLES 4
#define CHURN_MAX_CYCLES 8
#define CHURN_MAX_ROUNDS 1000
#define RACE_SECTOR 512
static const char RACE_MAGIC[8] = {'i', 'h', '-', 'r', 'a', 'c', 'e', ':'};

static struct {
	const char *dev;
	uint64_t off, len, block, seed;
	uint32_t tag;
	int procs, ops, qd, max_blocks, write_pct;
	/* the churn: a dm device, its tables, the cycles' suspend flags and table indexes (-1: no reload) */
	const char *churn_dev;
	const char *churn_table[CHURN_MAX_TABLES];
	int ntables, ncycles;
	struct {
		int noflush, nolockfs, table;
	} cycle[CHURN_MAX_CYCLES];
	uint64_t hold_us, gap_us;
} r = {.procs = 2, .ops = 100, .qd = 1, .max_blocks = 4, .write_pct = 50, .hold_us = 20000, .gap_us = 50000};

static struct race_shared {
	pthread_mutex_t lock;
	int failed, aio_missing;
	volatile int racers_done;
} *rs;

static int fd = -1;
static const char *subcommand = "race"; /* names the subcommand in usage and setup errors */
static uint64_t *initial; /* per sector of the range: hash of what it held before the race */

static uint64_t race_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---------- output ---------- */

struct rbuf {
	char *p;
	size_t len, cap;
};

static void rb_printf(struct rbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np)
			abort();
		b->p = np, b->cap = nc;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A process's lines leave in batches under the shared lock, so lines of different processes never mix. */
static void rb_emit(struct rbuf *b)
{
	if (b->len == 0)
		return;
	/* robust: a process that died holding the lock must not hang the others (the summary counts it as died) */
	if (pthread_mutex_lock(&rs->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&rs->lock);
	for (size_t at = 0; at < b->len;) {
		ssize_t n = write(1, b->p + at, b->len - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		at += (size_t)n;
	}
	pthread_mutex_unlock(&rs->lock);
	b->len = 0;
}

static void race_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "ih-io %s: ", subcommand);
	vfprintf(stderr, fmt, ap);
	fputs("\n(ih-io --help lists every option)\n", stderr);
	va_end(ap);
	exit(2);
}

static void race_setup_error(const char *what, int err)
{
	printf("{\"op\":\"setup\",\"ok\":false,\"what\":\"%s\",\"path\":\"%s\",\"errno\":%d,\"error\":\"%s\"}\n", what,
	       r.dev ? r.dev : "", err, strerrorname_np(err) ? strerrorname_np(err) : "E?");
	fflush(stdout);
	fprintf(stderr, "ih-io %s: %s %s: %s\n", subcommand, what, r.dev ? r.dev : "", strerror(err));
	exit(3);
}

/* ---------- payload ---------- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The sector `lba` (512-byte units on the device) as write `seq` of `writer` in race `tag` writes it. */
static void race_fill(unsigned char *s, uint32_t tag, uint32_t writer, uint32_t seq, uint64_t lba)
{
	memcpy(s, RACE_MAGIC, 8);
	put32(s + 8, tag);
	put32(s + 12, writer);
	put32(s + 16, seq);
	put32(s + 20, 0);
	put32(s + 24, (uint32_t)lba);
	put32(s + 28, (uint32_t)(lba >> 32));
	uint32_t x = tag * 0x9E3779B1u ^ writer * 0x85EBCA77u ^ seq * 0xC2B2AE3Du ^ (uint32_t)lba * 0x27D4EB2Fu ^
		     (uint32_t)(lba >> 32) * 0x165667B1u;
	x |= 1;
	for (int i = 32; i < RACE_SECTOR; i += 4) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		put32(s + i, x);
	}
}

static uint64_t fnv1a64(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* "w.s" when the sector is exactly that write's, "p" when it is what the range held before the race, else a hash. */
static void identify(char *tok, size_t cap, const unsigned char *s, uint64_t lba)
{
	uint64_t h = fnv1a64(s, RACE_SECTOR);
	if (!memcmp(s, RACE_MAGIC, 8) && get32(s + 8) == r.tag) {
		unsigned char want[RACE_SECTOR];
		uint32_t w = get32(s + 12), q = get32(s + 16);
		race_fill(want, r.tag, w, q, lba);
		if (!memcmp(want, s, RACE_SECTOR)) {
			snprintf(tok, cap, "%u.%u", w, q);
			return;
		}
	}
	if (initial && h == initial[(lba - r.off / RACE_SECTOR)]) {
		snprintf(tok, cap, "p");
		return;
	}
	snprintf(tok, cap, "h%016llx", (unsigned long long)h);
}

/* The versions of len bytes read at off, run-length coded: "1.4*8 p*8 h0123456789abcdef". */
static void versions(struct rbuf *b, const unsigned char *buf, uint64_t off, uint64_t len)
{
	char prev[40] = "", tok[40];
	unsigned run = 0;
	int first = 1;
	rb_printf(b, ",\"v\":\"");
	for (uint64_t i = 0; i < len / RACE_SECTOR; i++) {
		identify(tok, sizeof tok, buf + i * RACE_SECTOR, off / RACE_SECTOR + i);
		if (run && !strcmp(tok, prev)) {
			run++;
			continue;
		}
		if (run)
			rb_printf(b, run > 1 ? "%s%s*%u" : "%s%s", first ? "" : " ", prev, run), first = 0;
		strcpy(prev, tok);
		run = 1;
	}
	if (run)
		rb_printf(b, run > 1 ? "%s%s*%u" : "%s%s", first ? "" : " ", prev, run);
	rb_printf(b, "\"");
}

/* ---------- the race ---------- */

struct op {
	int write, k;
	uint64_t off, len, t0;
	unsigned char *buf;
	struct iocb cb;
};

static uint64_t xs64(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
	return *s;
}

/* Op k of a process: read or write, where, how long. Writes fill their buffer with their payload. */
static void plan_op(struct op *o, uint64_t *rng, int writer, int k)
{
	uint64_t blocks = r.len / r.block;
	o->k = k;
	o->write = (int)(xs64(rng) % 100) < r.write_pct;
	uint64_t first = xs64(rng) % blocks, n = 1 + xs64(rng) % (uint64_t)r.max_blocks;
	if (first + n > blocks)
		n = blocks - first;
	o->off = r.off + first * r.block;
	o->len = n * r.block;
	if (o->write)
		for (uint64_t i = 0; i < o->len / RACE_SECTOR; i++)
			race_fill(o->buf + i * RACE_SECTOR, r.tag, (uint32_t)writer, (uint32_t)k, o->off / RACE_SECTOR + i);
}

static void op_line(struct rbuf *b, struct op *o, int writer, long res, uint64_t t1)
{
	int err = res < 0 ? (int)-res : 0;
	if (err || (uint64_t)res != o->len)
		rs->failed = 1;
	rb_printf(b, "{\"op\":\"%s\",\"w\":%d,\"k\":%d,\"off\":%llu,\"len\":%llu,\"t0\":%llu,\"t1\":%llu,\"errno\":%d",
		  o->write ? "rw" : "rr", writer, o->k, (unsigned long long)o->off, (unsigned long long)o->len,
		  (unsigned long long)o->t0, (unsigned long long)t1, err);
	if (err)
		rb_printf(b, ",\"error\":\"%s\"", strerrorname_np(err) ? strerrorname_np(err) : "E?");
	else if ((uint64_t)res != o->len)
		rb_printf(b, ",\"short\":%ld", res);
	else if (!o->write)
		versions(b, o->buf, o->off, o->len);
	rb_printf(b, "}\n");
	if (b->len >= 32768)
		rb_emit(b);
}

static long sys_io_setup(unsigned n, aio_context_t *ctx) { return syscall(SYS_io_setup, n, ctx); }
static long sys_io_submit(aio_context_t ctx, long n, struct iocb **cbs) { return syscall(SYS_io_submit, ctx, n, cbs); }
static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, NULL);
}

static long sync_io(struct op *o)
{
	ssize_t n;
	do
		n = o->write ? pwrite(fd, o->buf, o->len, (off_t)o->off) : pread(fd, o->buf, o->len, (off_t)o->off);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* One racing process: ops I/Os, up to qd of them in flight. */
static void racer(int writer)
{
	struct op slots[RACE_MAX_QD];
	struct rbuf b = {0};
	uint64_t rng = r.seed * 0x9E3779B97F4A7C15ull + (uint64_t)writer * 0xD1B54A32D192ED03ull + 1;
	for (int i = 0; i < r.qd; i++)
		if (posix_memalign((void **)&slots[i].buf, 4096, (size_t)r.max_blocks * r.block) != 0)
			race_setup_error("posix_memalign", ENOMEM);
	aio_context_t ctx = 0;
	if (r.qd > 1 && sys_io_setup((unsigned)r.qd, &ctx) < 0) {
		rs->aio_missing = 1;
		ctx = 0;
	}
	if (!ctx) { /* one at a time */
		for (int k = 0; k < r.ops; k++) {
			struct op *o = &slots[0];
			plan_op(o, &rng, writer, k);
			o->t0 = race_now();
			long res = sync_io(o);
			op_line(&b, o, writer, res, race_now());
		}
		rb_emit(&b);
		return;
	}
	int next = 0, inflight = 0, free_slots[RACE_MAX_QD], nfree = r.qd;
	for (int i = 0; i < r.qd; i++)
		free_slots[i] = i;
	while (next < r.ops || inflight > 0) {
		while (next < r.ops && nfree > 0) {
			struct op *o = &slots[free_slots[--nfree]];
			plan_op(o, &rng, writer, next++);
			memset(&o->cb, 0, sizeof o->cb);
			o->cb.aio_data = (uint64_t)(uintptr_t)o;
			o->cb.aio_lio_opcode = o->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
			o->cb.aio_fildes = (uint32_t)fd;
			o->cb.aio_buf = (uint64_t)(uintptr_t)o->buf;
			o->cb.aio_nbytes = o->len;
			o->cb.aio_offset = (int64_t)o->off;
			struct iocb *cb = &o->cb;
			o->t0 = race_now();
			long s;
			do
				s = sys_io_submit(ctx, 1, &cb);
			while (s < 0 && errno == EINTR);
			if (s != 1) { /* refused at submission: that is this I/O's answer */
				op_line(&b, o, writer, s < 0 ? -errno : -EIO, race_now());
				free_slots[nfree++] = (int)(o - slots);
				continue;
			}
			inflight++;
		}
		if (inflight == 0)
			continue;
		struct io_event ev[RACE_MAX_QD];
		long n;
		do
			n = sys_io_getevents(ctx, 1, r.qd, ev);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			race_setup_error("io_getevents", errno);
		uint64_t t1 = race_now();
		for (long i = 0; i < n; i++) {
			struct op *o = (struct op *)(uintptr_t)ev[i].data;
			op_line(&b, o, writer, (long)ev[i].res, t1);
			free_slots[nfree++] = (int)(o - slots);
			inflight--;
		}
	}
	rb_emit(&b);
	syscall(SYS_io_destroy, ctx);
}

/* The whole range in one process, before and after the race: "initial" and "final". */
static void whole_range(const char *name)
{
	struct rbuf b = {0};
	unsigned char *buf;
	if (posix_memalign((void **)&buf, 4096, r.len) != 0)
		race_setup_error("posix_memalign", ENOMEM);
	struct op o = {.off = r.off, .len = r.len, .buf = buf};
	o.t0 = race_now();
	long res = sync_io(&o);
	uint64_t t1 = race_now();
	int err = res < 0 ? (int)-res : (uint64_t)res != r.len ? EIO : 0;
	if (err)
		rs->failed = 1;
	rb_printf(&b, "{\"op\":\"%s\",\"off\":%llu,\"len\":%llu,\"t0\":%llu,\"t1\":%llu,\"errno\":%d", name,
		  (unsigned long long)r.off, (unsigned long long)r.len, (unsigned long long)o.t0, (unsigned long long)t1, err);
	/* the initial line gives every sector's hash (initial is not set yet), so the host can check the snapshot */
	if (!err)
		versions(&b, buf, r.off, r.len);
	if (!err && !initial) {
		initial = malloc(r.len / RACE_SECTOR * sizeof *initial);
		if (!initial)
			race_setup_error("malloc", ENOMEM);
		for (uint64_t i = 0; i < r.len / RACE_SECTOR; i++)
			initial[i] = fnv1a64(buf + i * RACE_SECTOR, RACE_SECTOR);
	}
	rb_printf(&b, "}\n");
	rb_emit(&b);
	free(b.p);
	free(buf);
}

/* ---------- the churn: dmsetup suspend / reload / resume while the racers run ---------- */

static void churn_sleep(uint64_t us)
{
	struct timespec ts = {.tv_sec = (time_t)(us / 1000000u), .tv_nsec = (long)(us % 1000000u) * 1000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* One dmsetup command, its times and exit status as a "dm" line; the status (-1: not run or killed). */
static int churn_run(struct rbuf *b, int round, const char *cmd, const char *flags, char *const argv[])
{
	uint64_t t0 = race_now();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(2, 1); /* dmsetup's own words go to stderr: stdout carries only JSON lines */
		execvp(argv[0], argv);
		fprintf(stderr, "ih-io race: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int st = 0, code = -1;
	if (pid > 0) {
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
		code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	}
	uint64_t t1 = race_now();
	if (code != 0)
		rs->failed = 1;
	rb_printf(b, "{\"op\":\"dm\",\"round\":%d,\"cmd\":\"%s\",\"flags\":\"%s\",\"t0\":%llu,\"t1\":%llu,\"exit\":%d", round, cmd,
		  flags, (unsigned long long)t0, (unsigned long long)t1, code);
	if (pid > 0 && WIFSIGNALED(st))
		rb_printf(b, ",\"signal\":%d", WTERMSIG(st));
	rb_printf(b, "}\n");
	rb_emit(b);
	return code;
}

/*
 * The probes of one round: a write and a read of one block each, submitted (native AIO, so the churn never
 * waits on them) after the suspend returned, so the device surely holds them; their lines come once the resume
 * has returned and both completed. They are I/Os of the race by writer procs+1, sequence 2*round (the write)
 * and 2*round+1 (the read), judged like every other.
 */
struct probes {
	aio_context_t ctx;
	struct op o[2];
	int n, inflight[2];
};

static void probe_submit(struct probes *p, uint64_t *rng, int round)
{
	uint64_t blocks = r.len / r.block;
	p->n = 0;
	for (int i = 0; i < 2; i++) {
		struct op *o = &p->o[i];
		p->inflight[i] = 0;
		o->write = i == 0;
		o->k = 2 * round + i;
		o->off = r.off + xs64(rng) % blocks * r.block;
		o->len = r.block;
		if (o->write)
			for (uint64_t x = 0; x < o->len / RACE_SECTOR; x++)
				race_fill(o->buf + x * RACE_SECTOR, r.tag, (uint32_t)(r.procs + 1), (uint32_t)o->k, o->off / RACE_SECTOR + x);
		memset(&o->cb, 0, sizeof o->cb);
		o->cb.aio_data = (uint64_t)(uintptr_t)o;
		o->cb.aio_lio_opcode = o->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
		o->cb.aio_fildes = (uint32_t)fd;
		o->cb.aio_buf = (uint64_t)(uintptr_t)o->buf;
		o->cb.aio_nbytes = o->len;
		o->cb.aio_offset = (int64_t)o->off;
		struct iocb *cb = &o->cb;
		o->t0 = race_now();
		long s;
		do
			s = sys_io_submit(p->ctx, 1, &cb);
		while (s < 0 && errno == EINTR);
		if (s != 1) { /* refused at submission: that is this I/O's answer */
			struct rbuf b = {0};
			op_line(&b, o, r.procs + 1, s < 0 ? -errno : -EIO, race_now());
			rb_emit(&b);
			free(b.p);
			continue;
		}
		p->inflight[i] = 1;
		p->n++;
	}
}

/* Both probes' completions, waited for at most 120 s (a probe still held then is ETIMEDOUT: the race fails). */
static void probe_reap(struct probes *p)
{
	struct rbuf b = {0};
	struct io_event ev[2];
	int got = 0;
	uint64_t deadline = race_now() + 120000000u;
	while (got < p->n) {
		uint64_t now = race_now();
		if (now >= deadline)
			break;
		struct timespec ts = {.tv_sec = (time_t)((deadline - now) / 1000000u), .tv_nsec = (long)((deadline - now) % 1000000u) * 1000};
		long n = syscall(SYS_io_getevents, p->ctx, 1, p->n - got, ev, &ts);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		uint64_t t1 = race_now();
		for (long i = 0; i < n; i++) {
			struct op *o = (struct op *)(uintptr_t)ev[i].data;
			op_line(&b, o, r.procs + 1, (long)ev[i].res, t1);
			p->inflight[o - p->o] = 0;
		}
		got += (int)n;
	}
	int stuck = 0;
	for (int i = 0; i < 2; i++)
		if (p->inflight[i]) {
			op_line(&b, &p->o[i], r.procs + 1, -ETIMEDOUT, race_now());
			stuck = 1;
		}
	rb_emit(&b);
	free(b.p);
	if (stuck) /* a probe never completed: its buffer may still be written, so the churn must not go on */
		_exit(1);
}

/*
 * Cycle after cycle until the racers are done, and every cycle at least once (a round after the racers holds
 * only its probes): suspend (with the cycle's flags), submit the round's probes, hold the device suspended for
 * --churn-hold-us, load the cycle's table if it has one, resume, reap the probes, then leave the device active
 * for --churn-gap-us. A resume follows every suspend, whatever the suspend or reload answered.
 */
static void churner(void)
{
	struct rbuf b = {0};
	struct probes p = {0};
	uint64_t rng = r.seed * 0x9E3779B97F4A7C15ull + 0xA0761D6478BD642Full;
	for (int i = 0; i < 2; i++)
		if (posix_memalign((void **)&p.o[i].buf, 4096, r.block) != 0)
			race_setup_error("posix_memalign", ENOMEM);
	if (sys_io_setup(2, &p.ctx) < 0)
		p.ctx = 0; /* no AIO: no probes (a synchronous one would wait on the suspended device forever) */
	for (int round = 0; round < CHURN_MAX_ROUNDS && (round < r.ncycles || !rs->racers_done); round++) {
		const typeof(r.cycle[0]) *c = &r.cycle[round % r.ncycles];
		char *sus[6] = {"dmsetup", "suspend"};
		int n = 2;
		if (c->noflush)
			sus[n++] = "--noflush";
		if (c->nolockfs)
			sus[n++] = "--nolockfs";
		sus[n++] = (char *)r.churn_dev;
		sus[n] = NULL;
		const char *flags = c->noflush && c->nolockfs ? "noflush,nolockfs" : c->noflush ? "noflush" : c->nolockfs ? "nolockfs" : "";
		int suspended = churn_run(&b, round, "suspend", flags, sus) == 0;
		p.n = 0;
		if (suspended && p.ctx)
			probe_submit(&p, &rng, round);
		churn_sleep(r.hold_us);
		if (c->table >= 0) {
			char *rel[] = {"dmsetup", "reload", (char *)r.churn_dev, "--table", (char *)r.churn_table[c->table], NULL};
			char which[16];
			snprintf(which, sizeof which, "table%d", c->table);
			churn_run(&b, round, "reload", which, rel);
		}
		char *res[] = {"dmsetup", "resume", (char *)r.churn_dev, NULL};
		churn_run(&b, round, "resume", "", res);
		if (p.n)
			probe_reap(&p);
		churn_sleep(r.gap_us);
	}
	free(b.p);
}

/* "noflush,nolockfs/1", "default/-": a cycle's suspend flags and the --churn-table it loads. */
static void churn_cycle_arg(const char *v)
{
	if (r.ncycles >= CHURN_MAX_CYCLES)
		race_usage("at most %d --churn-cycle", CHURN_MAX_CYCLES);
	const char *slash = strchr(v, '/');
	if (!slash)
		race_usage("--churn-cycle expects FLAGS/TABLE like noflush/0 or default/-; got '%s'", v);
	typeof(r.cycle[0]) *c = &r.cycle[r.ncycles++];
	size_t fl = (size_t)(slash - v);
	if (fl == 7 && !strncmp(v, "default", 7))
		c->noflush = c->nolockfs = 0;
	else if (fl == 7 && !strncmp(v, "noflush", 7))
		c->noflush = 1;
	else if (fl == 8 && !strncmp(v, "nolockfs", 8))
		c->nolockfs = 1;
	else if (fl == 16 && !strncmp(v, "noflush,nolockfs", 16))
		c->noflush = c->nolockfs = 1;
	else
		race_usage("--churn-cycle flags are default, noflush, nolockfs or noflush,nolockfs; got '%s'", v);
	if (!strcmp(slash + 1, "-"))
		c->table = -1;
	else if (slash[1] >= '0' && slash[1] <= '9' && slash[2] == 0)
		c->table = slash[1] - '0';
	else
		race_usage("--churn-cycle table is an index of --churn-table or '-'; got '%s'", v);
}

static uint64_t race_size(const char *opt, const char *v)
{
	char *end;
	if (!v || *v < '0' || *v > '9')
		race_usage("%s expects a number; got '%s'", opt, v ? v : "");
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	else if (*end == 's')
		n <<= 9, end++;
	if (errno || *end)
		race_usage("%s expects a number like 4096, 64K or 128s; got '%s'", opt, v);
	return n;
}

static void race_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			race_usage("%s needs a value", a);
		i++;
		if (!strcmp(a, "--dev"))
			r.dev = v;
		else if (!strcmp(a, "--offset"))
			r.off = race_size(a, v);
		else if (!strcmp(a, "--length"))
			r.len = race_size(a, v);
		else if (!strcmp(a, "--block"))
			r.block = race_size(a, v);
		else if (!strcmp(a, "--procs"))
			r.procs = (int)race_size(a, v);
		else if (!strcmp(a, "--ops"))
			r.ops = (int)race_size(a, v);
		else if (!strcmp(a, "--qd"))
			r.qd = (int)race_size(a, v);
		else if (!strcmp(a, "--max-blocks"))
			r.max_blocks = (int)race_size(a, v);
		else if (!strcmp(a, "--write-percent"))
			r.write_pct = (int)race_size(a, v);
		else if (!strcmp(a, "--seed"))
			r.seed = race_size(a, v);
		else if (!strcmp(a, "--tag"))
			r.tag = (uint32_t)race_size(a, v);
		else if (!strcmp(a, "--churn-dev"))
			r.churn_dev = v;
		else if (!strcmp(a, "--churn-table")) {
			if (r.ntables >= CHURN_MAX_TABLES)
				race_usage("at most %d --churn-table", CHURN_MAX_TABLES);
			r.churn_table[r.ntables++] = v;
		} else if (!strcmp(a, "--churn-cycle"))
			churn_cycle_arg(v);
		else if (!strcmp(a, "--churn-hold-us"))
			r.hold_us = race_size(a, v);
		else if (!strcmp(a, "--churn-gap-us"))
			r.gap_us = race_size(a, v);
		else
			race_usage("unknown option '%s'", a);
	}
	if (!r.dev)
		race_usage("needs --dev");
	if (!r.block || r.block % RACE_SECTOR)
		race_usage("--block must be a positive multiple of 512");
	if (!r.len || r.len % r.block || r.off % r.block)
		race_usage("--offset and --length must be multiples of --block, --length positive");
	if (r.len > (64u << 20))
		race_usage("--length is for a small hot range: at most 64M");
	if (r.procs < 1 || r.procs > RACE_MAX_PROCS)
		race_usage("--procs must be between 1 and %d", RACE_MAX_PROCS);
	if (r.qd < 1 || r.qd > RACE_MAX_QD)
		race_usage("--qd must be between 1 and %d", RACE_MAX_QD);
	if (r.ops < 1 || r.max_blocks < 1 || r.write_pct > 100)
		race_usage("--ops and --max-blocks must be positive, --write-percent at most 100");
	if (!r.churn_dev != !r.ncycles)
		race_usage("--churn-dev and --churn-cycle go together");
	for (int i = 0; i < r.ncycles; i++)
		if (r.cycle[i].table >= r.ntables)
			race_usage("--churn-cycle names table %d of %d --churn-table", r.cycle[i].table, r.ntables);
	if (r.hold_us > 10000000u || r.gap_us > 10000000u)
		race_usage("--churn-hold-us and --churn-gap-us are at most 10 s");
}

int cmd_race(int argc, char **argv)
{
	race_args(argc, argv);
	rs = mmap(NULL, sizeof *rs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rs == MAP_FAILED)
		race_setup_error("mmap", errno);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&rs->lock, &ma);
	fd = open(r.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		race_setup_error("open", errno);
	uint64_t size;
	if (ioctl(fd, BLKGETSIZE64, &size) == 0 && r.off + r.len > size)
		race_usage("the range ends at %llu, beyond the device's %llu bytes", (unsigned long long)(r.off + r.len),
			   (unsigned long long)size);
	uint64_t t0 = race_now();
	whole_range("initial");
	pid_t pids[RACE_MAX_PROCS], churn = -1;
	int died = 0, churn_died = 0;
	if (r.churn_dev) {
		churn = fork();
		if (churn < 0)
			race_setup_error("fork", errno);
		if (churn == 0) {
			churner();
			_exit(0);
		}
	}
	for (int p = 0; p < r.procs; p++) {
		pids[p] = fork();
		if (pids[p] < 0) {
			int e = errno;
			/* the processes already forked end first: the churn's last round resumes the device */
			rs->racers_done = 1;
			while (wait(NULL) > 0 || errno == EINTR) {
			}
			race_setup_error("fork", e);
		}
		if (pids[p] == 0) {
			racer(p + 1);
			_exit(0);
		}
	}
	for (int p = 0; p < r.procs; p++) {
		int st;
		while (waitpid(pids[p], &st, 0) < 0 && errno == EINTR) {
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			died++;
	}
	rs->racers_done = 1;
	if (churn > 0) {
		int st;
		while (waitpid(churn, &st, 0) < 0 && errno == EINTR) {
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			churn_died = 1;
	}
	whole_range("final");
	int ok = !rs->failed && !died && !churn_died;
	printf("{\"op\":\"race-summary\",\"ok\":%s,\"engine\":\"%s\",\"procs\":%d,\"ops\":%d,\"qd\":%d,\"died\":%d,"
	       "\"elapsed_us\":%llu}\n",
	       ok ? "true" : "false", r.qd > 1 && !rs->aio_missing ? "aio" : "sync", r.procs, r.ops, r.qd, died + churn_died,
	       (unsigned long long)(race_now() - t0));
	fflush(stdout);
	return ok ? 0 : 1;
}

/*
 * ih-io unstable: O_DIRECT writes of a buffer that another thread keeps rewriting while the write is in
 * flight. Userspace may do this (the bytes written are then unspecified); what the stack may do afterwards is
 * the model's business (harness/model/integrity/unstable.ts). Write k covers --write-blocks blocks of the
 * range, in turn. Before it, the buffer holds version 0 of write k: every 512-byte sector as race_fill makes
 * it with writer k+1 and sequence 0. The mutator thread then rewrites the buffer in place with versions 1, 2,
 * ... (sequence = version), sector after sector, and the write is submitted only once it has begun, so the
 * kernel and the lower device may take any byte of any version that existed. When the completion is seen the
 * mutator stops, and says how many versions it began and how many sectors it rewrote between submission and
 * completion ("mut": the race happened for this write when it is positive). Then each block of the write is
 * read back alone (O_DIRECT pread), so a failing block fails only its own read.
 *
 * Output: per write {"op":"uw",...,"versions":V,"mut":N}, then per block {"op":"ub",...,"v":"..."} where each
 * sector is "<version>" when it is exactly that version of this write, else "x" and its 512 bytes in hex;
 * last {"op":"unstable-summary",...}. Exit: 0 every I/O succeeded, 1 some failed, 2 usage error, 3 setup error.
 */

static struct {
	const char *dev;
	uint64_t off, len, block;
	uint32_t tag;
	int writes, write_blocks;
} u = {.writes = 64, .write_blocks = 1};

static struct {
	unsigned char *buf;
	uint64_t lba, sectors;
	uint32_t writer;
	int gen, stop, ack, quit;
	uint32_t begun;	     /* versions begun for the current write (version 0 included) */
	uint64_t rewritten; /* sectors rewritten for the current write */
} mu;

static void *mutator(void *arg)
{
	(void)arg;
	int seen = 0;
	for (;;) {
		int g;
		while ((g = __atomic_load_n(&mu.gen, __ATOMIC_ACQUIRE)) == seen)
			if (__atomic_load_n(&mu.quit, __ATOMIC_ACQUIRE))
				return NULL;
		seen = g;
		uint32_t v = 0;
		while (!__atomic_load_n(&mu.stop, __ATOMIC_ACQUIRE)) {
			v++;
			__atomic_store_n(&mu.begun, v + 1, __ATOMIC_RELEASE);
			for (uint64_t i = 0; i < mu.sectors && !__atomic_load_n(&mu.stop, __ATOMIC_RELAXED); i++) {
				race_fill(mu.buf + i * RACE_SECTOR, u.tag, mu.writer, v, mu.lba + i);
				__atomic_add_fetch(&mu.rewritten, 1, __ATOMIC_RELEASE);
			}
		}
		__atomic_store_n(&mu.ack, g, __ATOMIC_RELEASE);
	}
}

/* One sector read back: its version of write `writer` when it is exactly one, else its bytes in hex. */
static void unstable_sector(struct rbuf *b, const unsigned char *s, uint32_t writer, uint32_t begun, uint64_t lba)
{
	if (!memcmp(s, RACE_MAGIC, 8) && get32(s + 8) == u.tag && get32(s + 12) == writer && get32(s + 16) < begun) {
		unsigned char want[RACE_SECTOR];
		race_fill(want, u.tag, writer, get32(s + 16), lba);
		if (!memcmp(want, s, RACE_SECTOR)) {
			rb_printf(b, "%u", get32(s + 16));
			return;
		}
	}
	rb_printf(b, "x");
	for (int i = 0; i < RACE_SECTOR; i++)
		rb_printf(b, "%02x", s[i]);
}

static void unstable_out(struct rbuf *b)
{
	fwrite(b->p, 1, b->len, stdout);
	b->len = 0;
}

static void unstable_args(int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			race_usage("%s needs a value", a);
		i++;
		if (!strcmp(a, "--dev"))
			u.dev = v;
		else if (!strcmp(a, "--offset"))
			u.off = race_size(a, v);
		else if (!strcmp(a, "--length"))
			u.len = race_size(a, v);
		else if (!strcmp(a, "--block"))
			u.block = race_size(a, v);
		else if (!strcmp(a, "--writes"))
			u.writes = (int)race_size(a, v);
		else if (!strcmp(a, "--write-blocks"))
			u.write_blocks = (int)race_size(a, v);
		else if (!strcmp(a, "--tag"))
			u.tag = (uint32_t)race_size(a, v);
		else
			race_usage("unknown option '%s'", a);
	}
	if (!u.dev)
		race_usage("needs --dev");
	if (!u.block || u.block % RACE_SECTOR)
		race_usage("--block must be a positive multiple of 512");
	if (!u.len || u.len % u.block || u.off % u.block || u.len > (64u << 20))
		race_usage("--offset and --length must be multiples of --block, --length positive and at most 64M");
	if (u.writes < 1 || u.write_blocks < 1 || (u.len / u.block) % (uint64_t)u.write_blocks)
		race_usage("--writes and --write-blocks must be positive, the range a whole number of writes");
}

int cmd_unstable(int argc, char **argv)
{
	subcommand = "unstable";
	unstable_args(argc, argv);
	r.dev = u.dev; /* for race_setup_error */
	fd = open(u.dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		race_setup_error("open", errno);
	uint64_t size, wlen = (uint64_t)u.write_blocks * u.block, slots = u.len / wlen;
	if (ioctl(fd, BLKGETSIZE64, &size) == 0 && u.off + u.len > size)
		race_usage("the range ends at %llu, beyond the device's %llu bytes", (unsigned long long)(u.off + u.len),
			   (unsigned long long)size);
	unsigned char *rd;
	if (posix_memalign((void **)&mu.buf, 4096, wlen) != 0 || posix_memalign((void **)&rd, 4096, u.block) != 0)
		race_setup_error("posix_memalign", ENOMEM);
	aio_context_t ctx = 0;
	int aio = sys_io_setup(1, &ctx) == 0;
	pthread_t th;
	int e = pthread_create(&th, NULL, mutator, NULL);
	if (e)
		race_setup_error("pthread_create", e);
	struct rbuf b = {0};
	int failed = 0, mutated = 0;
	uint64_t start = race_now();
	for (int k = 0; k < u.writes; k++) {
		uint64_t off = u.off + (uint64_t)(k % (int)slots) * wlen;
		mu.lba = off / RACE_SECTOR;
		mu.sectors = wlen / RACE_SECTOR;
		mu.writer = (uint32_t)k + 1;
		for (uint64_t i = 0; i < mu.sectors; i++)
			race_fill(mu.buf + i * RACE_SECTOR, u.tag, mu.writer, 0, mu.lba + i);
		__atomic_store_n(&mu.begun, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&mu.rewritten, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&mu.stop, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&mu.gen, k + 1, __ATOMIC_RELEASE);
		/* submit only once the mutator is rewriting, so the buffer changes during the whole flight */
		while (__atomic_load_n(&mu.rewritten, __ATOMIC_ACQUIRE) == 0)
			;
		struct op o = {.write = 1, .k = k, .off = off, .len = wlen, .buf = mu.buf};
		long res;
		uint64_t m0 = __atomic_load_n(&mu.rewritten, __ATOMIC_ACQUIRE);
		o.t0 = race_now();
		if (aio) {
			memset(&o.cb, 0, sizeof o.cb);
			o.cb.aio_lio_opcode = IOCB_CMD_PWRITE;
			o.cb.aio_fildes = (uint32_t)fd;
			o.cb.aio_buf = (uint64_t)(uintptr_t)o.buf;
			o.cb.aio_nbytes = o.len;
			o.cb.aio_offset = (int64_t)o.off;
			struct iocb *cb = &o.cb;
			long s;
			do
				s = sys_io_submit(ctx, 1, &cb);
			while (s < 0 && errno == EINTR);
			if (s != 1)
				res = s < 0 ? -errno : -EIO;
			else {
				struct io_event ev;
				long n;
				do
					n = sys_io_getevents(ctx, 1, 1, &ev);
				while (n < 0 && errno == EINTR);
				if (n != 1)
					race_setup_error("io_getevents", n < 0 ? errno : EIO);
				res = (long)ev.res;
			}
		} else
			res = sync_io(&o);
		uint64_t t1 = race_now(), m1 = __atomic_load_n(&mu.rewritten, __ATOMIC_ACQUIRE);
		__atomic_store_n(&mu.stop, 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&mu.ack, __ATOMIC_ACQUIRE) != k + 1)
			;
		uint32_t begun = __atomic_load_n(&mu.begun, __ATOMIC_ACQUIRE);
		int err = res < 0 ? (int)-res : (uint64_t)res != o.len ? EIO : 0;
		failed |= err != 0;
		mutated += m1 > m0;
		rb_printf(&b, "{\"op\":\"uw\",\"k\":%d,\"off\":%llu,\"len\":%llu,\"t0\":%llu,\"t1\":%llu,\"errno\":%d,\"versions\":%u,\"mut\":%llu}\n",
			  k, (unsigned long long)off, (unsigned long long)wlen, (unsigned long long)o.t0, (unsigned long long)t1, err, begun,
			  (unsigned long long)(m1 - m0));
		for (uint64_t x = 0; x < wlen; x += u.block) {
			struct op q = {.off = off + x, .len = u.block, .buf = rd};
			long n = sync_io(&q);
			int re = n < 0 ? (int)-n : (uint64_t)n != u.block ? EIO : 0;
			failed |= re != 0;
			rb_printf(&b, "{\"op\":\"ub\",\"k\":%d,\"off\":%llu,\"len\":%llu,\"errno\":%d", k, (unsigned long long)q.off,
				  (unsigned long long)u.block, re);
			if (!re) {
				rb_printf(&b, ",\"v\":\"");
				for (uint64_t s = 0; s < u.block / RACE_SECTOR; s++) {
					if (s)
						rb_printf(&b, " ");
					unstable_sector(&b, rd + s * RACE_SECTOR, mu.writer, begun, q.off / RACE_SECTOR + s);
				}
				rb_printf(&b, "\"");
			}
			rb_printf(&b, "}\n");
		}
		if (b.len >= 65536)
			unstable_out(&b);
	}
	__atomic_store_n(&mu.quit, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	rb_printf(&b, "{\"op\":\"unstable-summary\",\"ok\":%s,\"engine\":\"%s\",\"writes\":%d,\"mutated\":%d,\"elapsed_us\":%llu}\n",
		  failed ? "false" : "true", aio ? "aio" : "sync", u.writes, mutated, (unsigned long long)(race_now() - start));
	unstable_out(&b);
	fflush(stdout);
	if (aio)
		syscall(SYS_io_destroy, ctx);
	return failed ? 1 : 0;
}
