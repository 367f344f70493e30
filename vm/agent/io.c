/*
 * ih-io: the guest's only O_DIRECT data mover (busybox dd ignores iflag=direct). Its options: ih-io --help;
 * its output: vm/agent/io-report.ts.
 *
 * Every I/O reports the kernel's real errno. A failed read is re-read block by block so the host
 * learns exactly which blocks fail and how (EILSEQ from dm-integrity/dm-crypt AEAD, EIO, ...), and the
 * good blocks around them still reach the output. Results are JSON lines on stdout, one per failed I/O
 * (or per I/O with --log-ok), one per failing block, then a summary.
 *
 * Exit: 0 all I/O succeeded, 1 some I/O failed, 2 usage error, 3 setup error (open, ioctl, memory).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/if_alg.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAIL_RANGES 16
#define MAX_WORKERS 256

enum cmd { CMD_NONE, CMD_READ, CMD_COPY, CMD_ZERO, CMD_DISCARD, CMD_FLUSH, CMD_INFO };
static const char *cmd_names[] = {"", "read", "copy", "zero", "discard", "flush", "info"};

struct fail_range {
	uint64_t off, len;
	int err;
};

static struct {
	enum cmd cmd;
	const char *src, *dst;
	uint64_t src_off, dst_off, length, bs, block;
	int have_length, src_direct, dst_direct, fua, fsync, jobs, procs, log_ok, unaligned, iov;
	struct fail_range fail[MAX_FAIL_RANGES];
	int nfail;
} o = {.src_direct = 1, .dst_direct = 1, .jobs = 1};

/* Counters and the output lock live in a MAP_SHARED page so --procs children can update them too. */
static struct shared {
	pthread_mutex_t lock;
	uint64_t next_chunk, ios, failed_ios, failed_blocks, bytes_ok;
	int other_failures;
} *sh;

static int src_fd = -1, dst_fd = -1;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "EOF";
	return n ? n : "E?";
}

/* ---------- output: each I/O's lines leave together, in one write() under the shared lock ---------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n >= 0 && b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = b->cap ? b->cap * 2 : 1024;
		while (nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np)
			abort();
		b->p = np;
		b->cap = nc;
	}
}

static void emit(struct sbuf *b)
{
	if (b->len == 0)
		return;
	pthread_mutex_lock(&sh->lock);
	const char *p = b->p;
	size_t left = b->len;
	while (left > 0) {
		ssize_t n = write(1, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stdout gone: nothing sensible left to tell */
		p += n;
		left -= (size_t)n;
	}
	pthread_mutex_unlock(&sh->lock);
	b->len = 0;
}

static void json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c < 0x20)
			sb_printf(b, "\\u%04x", c);
		else
			sb_printf(b, "%c", c);
	}
	sb_printf(b, "\"");
}

static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ih-io: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n(ih-io --help lists every option)\n", stderr);
	va_end(ap);
	exit(2);
}

static void setup_error(const char *what, const char *path, int err, const char *hint)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"op\":\"setup\",\"ok\":false,\"what\":");
	json_str(&b, what);
	sb_printf(&b, ",\"path\":");
	json_str(&b, path ? path : "");
	sb_printf(&b, ",\"errno\":%d,\"error\":\"%s\"}\n", err, errname(err));
	if (write(1, b.p, b.len) < 0) {
	}
	fprintf(stderr, "ih-io: %s %s: %s%s%s\n", what, path ? path : "", strerror(err), hint ? "; " : "",
		hint ? hint : "");
	exit(3);
}

/* ---------- I/O primitives ---------- */

/* Test-only fault injection (--fail-range): the read is not issued, the given errno is returned. */
static int injected(uint64_t off, uint64_t len)
{
	for (int i = 0; i < o.nfail; i++)
		if (off < o.fail[i].off + o.fail[i].len && o.fail[i].off < off + len)
			return o.fail[i].err;
	return 0;
}

/*
 * --iov N: each I/O on the device under test is one preadv/pwritev of up to N pieces of varied sizes
 * (1, 3, 2, 5... blocks), each at a block-aligned but not page-aligned place of its own in a scattered
 * buffer: legal O_DIRECT that builds bios of many bvecs starting mid-page.
 */
#define MAX_IOV 16
static const unsigned iov_weights[] = {1, 3, 2, 5, 1, 4, 2, 7};
static __thread char *vbuf;

static int plan_iov(struct iovec *v, uint64_t len)
{
	if (!vbuf && posix_memalign((void **)&vbuf, 4096, o.bs + (MAX_IOV + 1) * o.block) != 0)
		setup_error("posix_memalign", NULL, ENOMEM, NULL);
	uint64_t left = len / o.block, pos = o.block;
	int n = 0;
	while (left > 0) {
		uint64_t nb = n == o.iov - 1 ? left : iov_weights[n % 8];
		if (nb > left)
			nb = left;
		v[n].iov_base = vbuf + pos;
		v[n].iov_len = nb * o.block;
		pos += v[n].iov_len + o.block;
		left -= nb;
		n++;
	}
	return n;
}

/* One vectored transfer of len bytes between buf and the device; a short one ends as an error. */
static int vec_at(int fd, char *buf, uint64_t len, uint64_t off, int write, int *eof)
{
	struct iovec v[MAX_IOV];
	int n = plan_iov(v, len);
	if (write)
		for (int i = 0, at = 0; i < n; at += (int)v[i].iov_len, i++)
			memcpy(v[i].iov_base, buf + at, v[i].iov_len);
	ssize_t r;
	do
		r = write ? pwritev(fd, v, n, (off_t)off) : preadv(fd, v, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	if ((uint64_t)r < len) {
		if (!write)
			*eof = 1;
		return write ? ENOSPC : -1;
	}
	if (!write)
		for (int i = 0, at = 0; i < n; at += (int)v[i].iov_len, i++)
			memcpy(buf + at, v[i].iov_base, v[i].iov_len);
	return 0;
}

/* Returns 0 or the errno; 0 bytes before the end is "EOF" and reported as errno 0 with error "EOF". */
static int read_at(char *buf, uint64_t len, uint64_t off, int *eof)
{
	*eof = 0;
	int e = injected(off, len);
	if (e)
		return e;
	if (o.iov && o.cmd == CMD_READ && len > o.block)
		return vec_at(src_fd, buf, len, off, 0, eof);
	while (len > 0) {
		ssize_t n = pread(src_fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0) {
			*eof = 1;
			return -1;
		}
		buf += n, off += (uint64_t)n, len -= (uint64_t)n;
	}
	return 0;
}

static int write_at(const char *buf, uint64_t len, uint64_t off)
{
	int eof;
	if (o.iov && o.cmd == CMD_COPY && len > o.block)
		return vec_at(dst_fd, (char *)buf, len, off, 1, &eof);
	while (len > 0) {
		ssize_t n = pwrite(dst_fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return ENOSPC;
		buf += n, off += (uint64_t)n, len -= (uint64_t)n;
	}
	return 0;
}

static void io_line(struct sbuf *b, const char *op, uint64_t off, uint64_t len, int err, int eof, uint64_t us)
{
	sb_printf(b, "{\"op\":\"%s\",\"off\":%llu,\"len\":%llu,\"ok\":%s,\"errno\":%d", op, (unsigned long long)off,
		  (unsigned long long)len, err || eof ? "false" : "true", eof ? 0 : err);
	if (err || eof)
		sb_printf(b, ",\"error\":\"%s\"", eof ? "EOF" : errname(err));
	sb_printf(b, ",\"us\":%llu", (unsigned long long)us);
}

static int write_run(struct sbuf *b, const char *buf, uint64_t len, uint64_t off)
{
	uint64_t t0 = now_us();
	int e = write_at(buf, len, off);
	uint64_t us = now_us() - t0;
	if (e)
		__atomic_add_fetch(&sh->failed_ios, 1, __ATOMIC_RELAXED);
	if (e || o.log_ok) {
		io_line(b, "write", off, len, e, 0, us);
		sb_printf(b, "}\n");
	}
	return e;
}

/*
 * `read` sends the good blocks to its output (the harness's transport disk, not the device under test)
 * gathered into runs of up to OUT_RUN bytes when they come in pieces smaller than OUT_GATHER: its writes
 * need not mirror the reads, and one O_DIRECT write per 512-byte block made a 2 MiB single-block read 3-6
 * times slower under TCG. Larger pieces go out as they come (the buffer's page faults would cost more
 * than they save). `copy` writes exactly what it reads, I/O for I/O: there the destination is the device
 * under test.
 */
#define OUT_RUN (256u << 10)
#define OUT_GATHER (64u << 10)

struct outrun {
	char *p; /* NULL: write each run as it comes (copy, or no output) */
	uint64_t off, len;
};

static void out_flush(struct sbuf *b, struct outrun *r)
{
	if (r->len == 0)
		return;
	if (write_run(b, r->p, r->len, r->off) == 0)
		__atomic_add_fetch(&sh->bytes_ok, r->len, __ATOMIC_RELAXED);
	r->len = 0;
}

static void out_put(struct sbuf *b, struct outrun *r, const char *data, uint64_t len, uint64_t off)
{
	if (r->p && r->len && (r->off + r->len != off || r->len + len > OUT_RUN || len >= OUT_GATHER))
		out_flush(b, r);
	if (!r->p || len >= OUT_GATHER) {
		if (dst_fd < 0 || write_run(b, data, len, off) == 0)
			__atomic_add_fetch(&sh->bytes_ok, len, __ATOMIC_RELAXED);
		return;
	}
	if (r->len == 0)
		r->off = off;
	memcpy(r->p + r->len, data, len);
	r->len += len;
}

/* Lines leave in batches: a write() per I/O to the agent's pipe cost seconds per thousand I/Os under TCG. */
#define EMIT_AT (32u << 10)

/* One chunk of the transfer at relative offset rel. */
static void do_chunk(struct sbuf *b, struct outrun *out, char *buf, unsigned char *good, uint64_t rel, uint64_t len)
{
	uint64_t nblocks = len / o.block, bad = 0;
	__atomic_add_fetch(&sh->ios, 1, __ATOMIC_RELAXED);
	if (src_fd < 0) {
		memset(good, 1, nblocks); /* zero: buf is all zeroes already */
	} else {
		int eof;
		uint64_t t0 = now_us();
		int e = read_at(buf, len, o.src_off + rel, &eof);
		uint64_t us = now_us() - t0;
		if (!e) {
			memset(good, 1, nblocks);
			if (o.log_ok) {
				io_line(b, "read", o.src_off + rel, len, 0, 0, us);
				sb_printf(b, "}\n");
			}
		} else {
			/* Find exactly which blocks fail: the whole I/O's errno says little when one bad block
			 * fails a 1 MiB read. Block lines follow their I/O's line. */
			struct sbuf blocks = {0};
			/* A one-block I/O is its own block: reading it again would count a second mismatch. */
			if (nblocks == 1) {
				good[0] = 0;
				bad = 1;
			}
			for (uint64_t i = 0; nblocks > 1 && i < nblocks; i++) {
				uint64_t bt0 = now_us();
				int beof, be = read_at(buf + i * o.block, o.block, o.src_off + rel + i * o.block, &beof);
				good[i] = !be;
				if (be) {
					bad++;
					io_line(&blocks, "block", o.src_off + rel + i * o.block, o.block, be, beof,
						now_us() - bt0);
					sb_printf(&blocks, "}\n");
				}
			}
			__atomic_add_fetch(&sh->failed_ios, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&sh->failed_blocks, bad, __ATOMIC_RELAXED);
			io_line(b, "read", o.src_off + rel, len, eof ? 0 : e, eof, us);
			sb_printf(b, ",\"bad_blocks\":%llu}\n", (unsigned long long)bad);
			if (blocks.len)
				sb_printf(b, "%.*s", (int)blocks.len, blocks.p);
			free(blocks.p);
		}
	}
	/* Write the good blocks, as contiguous runs, to the same relative place. */
	for (uint64_t i = 0; i < nblocks;) {
		if (!good[i]) {
			i++;
			continue;
		}
		uint64_t j = i;
		while (j < nblocks && good[j])
			j++;
		out_put(b, out, buf + i * o.block, (j - i) * o.block, o.dst_off + rel + i * o.block);
		i = j;
	}
	if (b->len >= EMIT_AT)
		emit(b);
}

static void *worker(void *arg)
{
	(void)arg;
	char *buf;
	if (posix_memalign((void **)&buf, 4096, o.bs) != 0)
		setup_error("posix_memalign", NULL, ENOMEM, NULL);
	memset(buf, 0, o.bs);
	unsigned char *good = malloc(o.bs / o.block);
	if (!good)
		setup_error("malloc", NULL, ENOMEM, NULL);
	struct sbuf b = {0};
	struct outrun out = {0};
	if (o.cmd == CMD_READ && dst_fd >= 0 && posix_memalign((void **)&out.p, 4096, OUT_RUN) != 0)
		setup_error("posix_memalign", NULL, ENOMEM, NULL);
	/* Chunks are handed out in offset order to whichever job is free, so --jobs interleaves offsets. */
	for (;;) {
		uint64_t i = __atomic_fetch_add(&sh->next_chunk, 1, __ATOMIC_RELAXED);
		if (i * o.bs >= o.length)
			break;
		uint64_t rel = i * o.bs, len = o.length - rel < o.bs ? o.length - rel : o.bs;
		do_chunk(&b, &out, buf, good, rel, len);
	}
	out_flush(&b, &out);
	emit(&b);
	free(out.p);
	free(b.p);
	free(good);
	free(buf);
	return NULL;
}

/* ---------- setup ---------- */

static uint64_t parse_size(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	if (!s || *s < '0' || *s > '9')
		usage_error("%s expects a byte count like 4096, 64K, 1M, 2G; got '%s'", opt, s ? s : "");
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	else if (*end == 'g' || *end == 'G')
		shift = 30, end++;
	else if (*end == 's')
		shift = 9, end++; /* 512-byte sectors, as dmsetup and the kernel log count */
	if (errno || *end || (shift && v > (~0ULL >> shift)))
		usage_error("%s expects a byte count like 4096, 64K, 1M, 2G; got '%s'", opt, s);
	return (uint64_t)v << shift;
}

static int open_dev(const char *path, int flags, int direct, const char *role)
{
	int fd = open(path, flags | O_CLOEXEC | (direct ? O_DIRECT : 0), 0644);
	if (fd < 0) {
		int e = errno;
		setup_error(role, path, e,
			    direct && e == EINVAL ? "the filesystem may not support O_DIRECT (tmpfs does not); use "
						    "--src-buffered/--dst-buffered for a scratch file"
						  : NULL);
	}
	return fd;
}

struct devinfo {
	int is_blk;
	uint64_t size;
	int lbs, pbs, ro;
};

static struct devinfo dev_info(int fd, const char *path)
{
	struct stat st;
	struct devinfo d = {0};
	if (fstat(fd, &st) < 0)
		setup_error("fstat", path, errno, NULL);
	d.is_blk = S_ISBLK(st.st_mode);
	if (!d.is_blk) {
		d.size = (uint64_t)st.st_size;
		return d;
	}
	if (ioctl(fd, BLKGETSIZE64, &d.size) < 0)
		setup_error("ioctl BLKGETSIZE64", path, errno, NULL);
	if (ioctl(fd, BLKSSZGET, &d.lbs) < 0)
		setup_error("ioctl BLKSSZGET", path, errno, NULL);
	if (ioctl(fd, BLKPBSZGET, &d.pbs) < 0)
		d.pbs = d.lbs;
	if (ioctl(fd, BLKROGET, &d.ro) < 0)
		d.ro = 0;
	return d;
}

static void need_multiple(const char *what, uint64_t v, uint64_t unit, const char *why)
{
	if (unit && v % unit)
		usage_error("%s %llu is not a multiple of %llu (%s)", what, (unsigned long long)v,
			    (unsigned long long)unit, why);
}

static void help(void)
{
	fputs("usage:\n"
	      "  ih-io read    --dev DEV [--offset N] [--length N] [--out FILE [--out-offset N]] [transfer options]\n"
	      "  ih-io copy    --src SRC [--src-offset N] --dst DST [--dst-offset N] [--length N] [transfer options]\n"
	      "  ih-io zero    --dev DEV [--offset N] [--length N] [--bs N] [--fua] [--fsync] [--jobs N|--procs N]\n"
	      "  ih-io discard --dev DEV [--offset N] [--length N]\n"
	      "  ih-io flush   --dev DEV\n"
	      "  ih-io info    --dev DEV\n"
	      "  ih-io alg     NAME  (instantiate a kernel crypto algorithm through AF_ALG)\n"
	      "  ih-io race    --dev DEV --offset N --length N --block N [--procs P] [--ops K] [--qd Q]\n"
	      "                [--max-blocks M] [--write-percent W] [--seed S] [--tag T]\n"
	      "                [--churn-dev DMNAME --churn-cycle FLAGS/TABLE ... [--churn-table TABLE ...]\n"
	      "                 [--churn-hold-us N] [--churn-gap-us N]]  (see io-race.c)\n"
	      "  ih-io unstable --dev DEV --offset N --length N --block N [--writes K] [--write-blocks M] [--tag T]\n"
	      "                (writes whose buffer another thread rewrites in flight; see io-race.c)\n"
	      "transfer options: --bs N (1M) --block N (logical block size or 4096) --jobs N | --procs N\n"
	      "  --fua --fsync --no-direct --src-buffered --dst-buffered --log-ok\n"
	      "  --unaligned (skip the O_DIRECT alignment refusal: the kernel answers, usually EINVAL)\n"
	      "  --iov N (2-16: each I/O on the device one preadv/pwritev of N scattered, block-aligned pieces)\n"
	      "  --fail-range OFF:LEN:ERRNO (test only: pretend reads overlapping the range fail)\n"
	      "sizes: bytes, or with suffix K M G (binary) or s (512-byte sectors)\n",
	      stdout);
	exit(0);
}

static void parse_args(int argc, char **argv)
{
	if (argc < 2)
		usage_error("missing subcommand");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		help();
	for (int c = 1; c <= CMD_INFO; c++)
		if (!strcmp(argv[1], cmd_names[c]))
			o.cmd = (enum cmd)c;
	if (o.cmd == CMD_NONE)
		usage_error("unknown subcommand '%s'", argv[1]);
	int is_copy = o.cmd == CMD_COPY;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define FLAG(name) (!strcmp(a, name))
#define VALUE(name) (!strcmp(a, name) && (v ? (i++, 1) : (usage_error("%s needs a value", name), 0)))
		if (FLAG("--help"))
			help();
		else if (FLAG("--fua"))
			o.fua = 1;
		else if (FLAG("--fsync"))
			o.fsync = 1;
		else if (FLAG("--no-direct"))
			o.src_direct = o.dst_direct = 0;
		else if (FLAG("--src-buffered"))
			o.src_direct = 0;
		else if (FLAG("--dst-buffered") || FLAG("--out-buffered"))
			o.dst_direct = 0;
		else if (FLAG("--log-ok"))
			o.log_ok = 1;
		else if (FLAG("--unaligned"))
			o.unaligned = 1;
		else if (!is_copy && VALUE("--dev"))
			o.src = v;
		else if (!is_copy && VALUE("--offset"))
			o.src_off = parse_size(a, v);
		else if (o.cmd == CMD_READ && VALUE("--out"))
			o.dst = v;
		else if (o.cmd == CMD_READ && VALUE("--out-offset"))
			o.dst_off = parse_size(a, v);
		else if (is_copy && VALUE("--src"))
			o.src = v;
		else if (is_copy && VALUE("--dst"))
			o.dst = v;
		else if (is_copy && VALUE("--src-offset"))
			o.src_off = parse_size(a, v);
		else if (is_copy && VALUE("--dst-offset"))
			o.dst_off = parse_size(a, v);
		else if (VALUE("--length"))
			o.length = parse_size(a, v), o.have_length = 1;
		else if (VALUE("--bs"))
			o.bs = parse_size(a, v);
		else if (VALUE("--block"))
			o.block = parse_size(a, v);
		else if (VALUE("--jobs"))
			o.jobs = (int)parse_size(a, v);
		else if (VALUE("--procs"))
			o.procs = (int)parse_size(a, v);
		else if ((o.cmd == CMD_READ || is_copy) && VALUE("--iov"))
			o.iov = (int)parse_size(a, v);
		else if (VALUE("--fail-range")) {
			unsigned long long off, len;
			int err;
			if (o.nfail == MAX_FAIL_RANGES || sscanf(v, "%llu:%llu:%d", &off, &len, &err) != 3 || err <= 0)
				usage_error("--fail-range expects OFF:LEN:ERRNO in bytes, e.g. 8192:4096:84; got '%s'", v);
			o.fail[o.nfail++] = (struct fail_range){off, len, err};
		} else
			usage_error("%s: unknown or misplaced option '%s'", cmd_names[o.cmd], a);
#undef FLAG
#undef VALUE
	}
	if (!o.src)
		usage_error("%s needs %s", cmd_names[o.cmd], is_copy ? "--src" : "--dev");
	if (is_copy && !o.dst)
		usage_error("copy needs --dst");
	if (o.procs && o.jobs > 1)
		usage_error("--jobs and --procs are exclusive");
	if (o.iov && (o.iov < 2 || o.iov > MAX_IOV))
		usage_error("--iov must be between 2 and %d", MAX_IOV);
	if (o.jobs < 1 || o.jobs > MAX_WORKERS || o.procs < 0 || o.procs > MAX_WORKERS)
		usage_error("--jobs/--procs must be between 1 and %d", MAX_WORKERS);
}

/* ---------- subcommands ---------- */

static int simple_result(const char *op, int e)
{
	struct sbuf b = {0};
	sb_printf(&b, "{\"op\":\"%s\",\"off\":%llu,\"len\":%llu,\"ok\":%s,\"errno\":%d", op,
		  (unsigned long long)o.src_off, (unsigned long long)o.length, e ? "false" : "true", e);
	if (e)
		sb_printf(&b, ",\"error\":\"%s\"", errname(e));
	sb_printf(&b, "}\n");
	emit(&b);
	free(b.p);
	return e ? 1 : 0;
}

static int cmd_info(void)
{
	int fd = open_dev(o.src, O_RDONLY, 0, "open");
	struct devinfo d = dev_info(fd, o.src);
	struct sbuf b = {0};
	sb_printf(&b, "{\"op\":\"info\",\"path\":");
	json_str(&b, o.src);
	sb_printf(&b, ",\"block_device\":%s,\"size\":%llu,\"logical_block_size\":%d,\"physical_block_size\":%d,"
		      "\"read_only\":%s}\n",
		  d.is_blk ? "true" : "false", (unsigned long long)d.size, d.lbs, d.pbs, d.ro ? "true" : "false");
	emit(&b);
	free(b.p);
	return 0;
}

static int cmd_discard(void)
{
	int fd = open_dev(o.src, O_WRONLY, 0, "open");
	struct devinfo d = dev_info(fd, o.src);
	if (!o.have_length)
		o.length = d.size > o.src_off ? d.size - o.src_off : 0;
	int e = 0;
	if (d.is_blk) {
		uint64_t range[2] = {o.src_off, o.length};
		if (ioctl(fd, BLKDISCARD, range) < 0)
			e = errno;
	} else if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)o.src_off, (off_t)o.length) < 0) {
		e = errno; /* a regular file: the nearest thing, so the command is testable on the host */
	}
	return simple_result("discard", e);
}

static int cmd_flush(void)
{
	int fd = open_dev(o.src, O_RDONLY, 0, "open");
	o.length = 0;
	return simple_result("flush", fsync(fd) < 0 ? errno : 0);
}

static int cmd_transfer(void)
{
	struct devinfo si = {0}, di = {0};
	int writes = o.dst || o.cmd == CMD_ZERO;
	if (o.cmd == CMD_ZERO) {
		o.dst = o.src, o.dst_off = o.src_off, o.dst_direct = o.src_direct;
		dst_fd = open_dev(o.dst, O_WRONLY | (o.fua ? O_DSYNC : 0), o.dst_direct, "open");
		di = dev_info(dst_fd, o.dst);
		si = di;
	} else {
		src_fd = open_dev(o.src, O_RDONLY, o.src_direct, "open");
		si = dev_info(src_fd, o.src);
		if (o.dst) {
			/* A regular output file is created; devices must already exist. O_DSYNC makes each direct
			 * write a FUA write (or write + flush where the device has no FUA). */
			dst_fd = open_dev(o.dst, O_WRONLY | O_CREAT | (o.fua ? O_DSYNC : 0), o.dst_direct, "open");
			di = dev_info(dst_fd, o.dst);
		}
	}
	if (!o.have_length)
		o.length = si.size > o.src_off ? si.size - o.src_off : 0;
	if (o.length == 0)
		usage_error("nothing to do: --length is 0 (or --offset is at the end of %s)", o.src);
	/* Past the end a device returns short reads: refuse instead of reporting every block as EOF. */
	if (o.cmd != CMD_ZERO && o.src_off + o.length > si.size)
		usage_error("%s + --length %llu is beyond the end of %s (%llu bytes)", o.cmd == CMD_COPY ? "--src-offset" : "--offset",
			    (unsigned long long)o.length, o.src, (unsigned long long)si.size);
	if (dst_fd >= 0 && di.is_blk && o.dst_off + o.length > di.size)
		usage_error("the write range ends beyond the end of %s (%llu bytes)", o.dst, (unsigned long long)di.size);

	/* O_DIRECT needs offsets and sizes aligned to the logical block size; refuse up front with a
	 * message rather than let every I/O fail with EINVAL. */
	uint64_t unit = 1;
	if ((o.src_direct && o.cmd != CMD_ZERO) || (writes && o.dst_direct))
		unit = 512;
	if (o.src_direct && si.is_blk && (uint64_t)si.lbs > unit && o.cmd != CMD_ZERO)
		unit = (uint64_t)si.lbs;
	if (writes && o.dst_direct && di.is_blk && (uint64_t)di.lbs > unit)
		unit = (uint64_t)di.lbs;
	const char *why = "O_DIRECT needs I/O aligned to the logical block size";
	if (o.unaligned)
		unit = 0; /* need_multiple() ignores unit 0: the kernel's own answer is the point */
	need_multiple("--length", o.length, unit, why);
	if (!o.block)
		o.block = si.is_blk && si.lbs ? (uint64_t)si.lbs : 4096;
	if (!o.bs)
		o.bs = 1 << 20;
	if (o.bs > o.length)
		o.bs = o.length;
	if (!o.unaligned)
		need_multiple("--block", o.block, unit, why);
	need_multiple("--bs", o.bs, o.block, "an I/O is split into whole blocks when it fails");
	need_multiple("--length", o.length, o.block, "an I/O is split into whole blocks when it fails");
	need_multiple(o.cmd == CMD_COPY ? "--src-offset" : "--offset", o.src_off, unit, why);
	if (!o.unaligned)
		need_multiple(o.cmd == CMD_COPY ? "--src-offset" : "--offset", o.src_off, o.block,
			      "failing blocks are reported in whole --block units");
	need_multiple(o.cmd == CMD_COPY ? "--dst-offset" : "--out-offset", o.dst_off, unit, why);
	if (o.bs > (1u << 30))
		usage_error("--bs %llu is larger than 1G", (unsigned long long)o.bs);

	int workers = o.procs ? o.procs : o.jobs;
	uint64_t t0 = now_us();
	if (o.procs) {
		pid_t pids[MAX_WORKERS];
		for (int i = 0; i < o.procs; i++) {
			pids[i] = fork();
			if (pids[i] < 0)
				setup_error("fork", NULL, errno, NULL);
			if (pids[i] == 0) {
				worker(NULL);
				_exit(0);
			}
		}
		for (int i = 0; i < o.procs; i++) {
			int st;
			while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
			}
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				sh->other_failures++; /* a worker died: its chunks are unaccounted for */
		}
	} else {
		pthread_t th[MAX_WORKERS];
		for (int i = 0; i < o.jobs; i++)
			if ((errno = pthread_create(&th[i], NULL, worker, NULL)) != 0)
				setup_error("pthread_create", NULL, errno, NULL);
		for (int i = 0; i < o.jobs; i++)
			pthread_join(th[i], NULL);
	}

	struct sbuf b = {0};
	if (dst_fd >= 0 && o.fsync) {
		int e = fsync(dst_fd) < 0 ? errno : 0;
		if (e)
			sh->other_failures++;
		sb_printf(&b, "{\"op\":\"fsync\",\"ok\":%s,\"errno\":%d%s%s%s}\n", e ? "false" : "true", e,
			  e ? ",\"error\":\"" : "", e ? errname(e) : "", e ? "\"" : "");
	}
	int ok = sh->failed_ios == 0 && sh->other_failures == 0;
	sb_printf(&b,
		  "{\"op\":\"summary\",\"cmd\":\"%s\",\"ok\":%s,\"bytes\":%llu,\"bytes_ok\":%llu,\"ios\":%llu,"
		  "\"failed_ios\":%llu,\"failed_blocks\":%llu,\"bs\":%llu,\"block\":%llu,\"workers\":%d,\"mode\":\"%s\","
		  "\"direct\":%s,\"elapsed_us\":%llu}\n",
		  cmd_names[o.cmd], ok ? "true" : "false", (unsigned long long)o.length,
		  (unsigned long long)sh->bytes_ok, (unsigned long long)sh->ios, (unsigned long long)sh->failed_ios,
		  (unsigned long long)sh->failed_blocks, (unsigned long long)o.bs, (unsigned long long)o.block, workers,
		  o.procs ? "procs" : "threads", (o.cmd == CMD_ZERO ? o.dst_direct : o.src_direct) ? "true" : "false",
		  (unsigned long long)(now_us() - t0));
	emit(&b);
	free(b.p);
	return ok ? 0 : 1;
}

/* Binding an AF_ALG socket makes the kernel instantiate NAME (templates like hmac(sha256) included), so
 * /proc/crypto lists it afterwards. Tries each socket type; exit 0 when one binds, 1 when none does. */
static int cmd_alg(const char *name)
{
	static const char *types[] = {"hash", "skcipher", "aead"};
	int last = 0;
	if (strlen(name) >= sizeof(((struct sockaddr_alg *)0)->salg_name))
		usage_error("alg: name '%s' is too long", name);
	for (unsigned i = 0; i < sizeof types / sizeof *types; i++) {
		struct sockaddr_alg sa = {.salg_family = AF_ALG};
		strcpy((char *)sa.salg_type, types[i]);
		strcpy((char *)sa.salg_name, name);
		int fd = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = errno;
			break;
		}
		int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
		last = r < 0 ? errno : 0;
		close(fd);
		if (!r) {
			struct sbuf b = {0};
			sb_printf(&b, "{\"op\":\"alg\",\"name\":");
			json_str(&b, name);
			sb_printf(&b, ",\"type\":\"%s\",\"ok\":true,\"errno\":0}\n", types[i]);
			fwrite(b.p, 1, b.len, stdout);
			return 0;
		}
	}
	struct sbuf b = {0};
	sb_printf(&b, "{\"op\":\"alg\",\"name\":");
	json_str(&b, name);
	sb_printf(&b, ",\"ok\":false,\"errno\":%d,\"error\":\"%s\"}\n", last, errname(last));
	fwrite(b.p, 1, b.len, stdout);
	return 1;
}

/* io-race.c: overlapping reads and writes from several processes on a hot range. */
int cmd_race(int argc, char **argv);
/* io-race.c: O_DIRECT writes of a buffer rewritten while they are in flight. */
int cmd_unstable(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "alg"))
		return cmd_alg(argv[2]);
	if (argc >= 2 && !strcmp(argv[1], "race"))
		return cmd_race(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "unstable"))
		return cmd_unstable(argc, argv);
	parse_args(argc, argv);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		setup_error("mmap", NULL, errno, NULL);
	pthread_mutexattr_t ma;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->lock, &ma);
	switch (o.cmd) {
	case CMD_INFO:
		return cmd_info();
	case CMD_DISCARD:
		return cmd_discard();
	case CMD_FLUSH:
		return cmd_flush();
	default:
		return cmd_transfer();
	}
}
