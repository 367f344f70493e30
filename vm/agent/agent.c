/*
 * ih-agent: the guest half of "guest control" (see PROTOCOL.md).
 *
 * Runs inside a busybox initramfs without udev, serves one request at a time over the virtio-serial
 * port named "ih.agent" (or stdin/stdout with --stdio, which is how the host tests drive it).
 * Frames are a text header line that declares the byte length of every payload that follows, so no
 * output content can ever desynchronise the stream.
 *
 * Built static (gcc -static -O2 -Wall) so it needs nothing from the guest's libraries.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTO_VERSION 1
#define PORT_NAME "ih.agent"
#define MAX_HEADER 4096
#define MAX_PAYLOADS 8
#define MAX_REQUEST_BYTES (64u << 20)     /* argv + stdin held in guest RAM */
#define DEFAULT_OUTPUT_LIMIT (16u << 20)  /* per stream */
#define KILL_GRACE_MS 5000                /* after SIGKILL: a task in D state may never die */
#define DRAIN_GRACE_MS 200                /* after exit: background children may hold the pipes */
#define PORT_WAIT_MS 10000

static int in_fd = -1, out_fd = -1;
static const char *kmsg_path = "/dev/kmsg";
static int sigchld_pipe[2] = {-1, -1};

static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ih-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* ---------- port I/O: tolerate partial reads/writes, EINTR and a non-blocking fd ---------- */

static char rbuf[65536];
static size_t rpos, rlen;

/* 1 = data available, 0 = EOF, -1 = error */
static int fill(void)
{
	for (;;) {
		ssize_t n = read(in_fd, rbuf, sizeof rbuf);
		if (n > 0) {
			rpos = 0;
			rlen = (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			struct pollfd p = {in_fd, POLLIN, 0};
			poll(&p, 1, -1);
			continue;
		}
		return -1;
	}
}

/* Reads one '\n'-terminated line without the '\n'. Returns its length, -1 on EOF/error, -2 if longer
 * than cap-1 (the rest of the line is consumed so the caller can resynchronise). */
static long read_line(char *line, size_t cap)
{
	size_t n = 0;
	int too_long = 0;
	for (;;) {
		if (rpos == rlen && fill() <= 0)
			return -1;
		char c = rbuf[rpos++];
		if (c == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = c;
		else
			too_long = 1;
	}
	line[n] = 0;
	return too_long ? -2 : (long)n;
}

/* dst may be NULL to discard. 0 ok, -1 EOF/error. */
static int read_exact(char *dst, size_t len)
{
	while (len > 0) {
		if (rpos == rlen && fill() <= 0)
			return -1;
		size_t k = rlen - rpos < len ? rlen - rpos : len;
		if (dst) {
			memcpy(dst, rbuf + rpos, k);
			dst += k;
		}
		rpos += k;
		len -= k;
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = {fd, POLLOUT, 0};
			poll(&pf, 1, -1);
		} else if (n < 0 && errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/* One frame: header "IH1 <type> <id> <lens> [extra]\n" followed by the payloads. */
static int send_frame(const char *type, const char *id, const char *extra, int npay, const char *const *pay,
		      const size_t *lens)
{
	char hdr[MAX_HEADER];
	int off = snprintf(hdr, sizeof hdr, "IH1 %s %s ", type, id);
	if (npay == 0)
		off += snprintf(hdr + off, sizeof hdr - (size_t)off, "-");
	for (int i = 0; i < npay; i++)
		off += snprintf(hdr + off, sizeof hdr - (size_t)off, "%s%zu", i ? "," : "", lens[i]);
	off += snprintf(hdr + off, sizeof hdr - (size_t)off, "%s%s\n", extra && *extra ? " " : "", extra ? extra : "");
	if (off >= (int)sizeof hdr)
		return -1;
	if (write_all(out_fd, hdr, (size_t)off) < 0)
		return -1;
	for (int i = 0; i < npay; i++)
		if (lens[i] && write_all(out_fd, pay[i], lens[i]) < 0)
			return -1;
	return 0;
}

static int send_error(const char *id, int err, const char *fmt, ...)
{
	char msg[1024], extra[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(extra, sizeof extra, "errno=%d", err);
	const char *pay[1] = {msg};
	size_t lens[1] = {strlen(msg)};
	return send_frame("error", id, extra, 1, pay, lens);
}

/* ---------- finding the port: no udev, so read sysfs ourselves ---------- */

static int read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = 0;
	return 0;
}

static int find_port(char *path, size_t cap)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while ((e = readdir(d)) != NULL && found < 0) {
		char p[PATH_MAX], val[256];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
		if (read_small(p, val, sizeof val) < 0 || strcmp(val, PORT_NAME) != 0)
			continue;
		snprintf(path, cap, "/dev/%s", e->d_name);
		/* devtmpfs normally creates the node; without it, make it from sysfs's major:minor. */
		unsigned maj, min;
		snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/dev", e->d_name);
		if (access(path, F_OK) < 0 && read_small(p, val, sizeof val) == 0 &&
		    sscanf(val, "%u:%u", &maj, &min) == 2)
			mknod(path, S_IFCHR | 0600, makedev(maj, min));
		found = 0;
	}
	closedir(d);
	return found;
}

static int open_port(const char *fixed)
{
	char path[PATH_MAX];
	int64_t give_up = now_ms() + PORT_WAIT_MS;
	for (;;) {
		if (fixed)
			snprintf(path, sizeof path, "%s", fixed);
		if (fixed || find_port(path, sizeof path) == 0) {
			int fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd >= 0)
				return fd;
		}
		if (now_ms() > give_up) {
			logmsg("no usable virtio port %s (%s)", fixed ? fixed : PORT_NAME, strerror(errno));
			return -1;
		}
		sleep_ms(100);
	}
}

/* ---------- exec ---------- */

struct capture {
	int fd;
	char *buf;
	size_t len, alloc, limit;
	uint64_t total; /* bytes the child wrote, including what we dropped */
};

/* Drain what is readable now. Beyond the limit we keep reading and dropping, so a chatty child never
 * blocks on a full pipe (which would turn into a false "hang"). Returns 1 at EOF. */
static int capture_read(struct capture *c)
{
	char tmp[65536];
	for (;;) {
		ssize_t n = read(c->fd, tmp, sizeof tmp);
		if (n == 0)
			return 1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : 1;
		c->total += (uint64_t)n;
		size_t keep = c->limit - c->len < (size_t)n ? c->limit - c->len : (size_t)n;
		if (keep == 0)
			continue;
		if (c->len + keep > c->alloc) {
			size_t na = c->alloc ? c->alloc : 65536;
			while (na < c->len + keep)
				na *= 2;
			if (na > c->limit)
				na = c->limit;
			char *nb = realloc(c->buf, na);
			if (!nb) {
				c->limit = c->len; /* out of memory: report as truncated */
				continue;
			}
			c->buf = nb;
			c->alloc = na;
		}
		memcpy(c->buf + c->len, tmp, keep);
		c->len += keep;
	}
}

static void on_sigchld(int sig)
{
	(void)sig;
	int saved = errno;
	if (write(sigchld_pipe[1], "c", 1) < 0) {
		/* pipe full: a wake-up is already pending */
	}
	errno = saved;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void reap_strays(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

static int handle_exec(const char *id, char *argvbuf, size_t argvlen, const char *in, size_t inlen,
		       long timeout_ms, size_t limit)
{
	/* argv payload: each argument NUL-terminated. */
	if (argvlen == 0 || argvbuf[argvlen - 1] != 0)
		return send_error(id, EINVAL, "exec: argv payload must be NUL-terminated strings");
	size_t argc = 0;
	for (size_t i = 0; i < argvlen; i++)
		argc += argvbuf[i] == 0;
	char **argv = calloc(argc + 1, sizeof *argv);
	if (!argv)
		return send_error(id, ENOMEM, "exec: out of memory");
	for (size_t i = 0, a = 0; a < argc; a++) {
		argv[a] = argvbuf + i;
		i += strlen(argvbuf + i) + 1;
	}

	int inp[2], outp[2], errp[2], execp[2];
	if (pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(execp, O_CLOEXEC) < 0) {
		free(argv);
		return send_error(id, errno, "exec: pipe: %s", strerror(errno));
	}
	int64_t start = now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		free(argv);
		close(inp[0]), close(inp[1]), close(outp[0]), close(outp[1]), close(errp[0]), close(errp[1]);
		close(execp[0]), close(execp[1]);
		return send_error(id, e, "exec: fork: %s", strerror(e));
	}
	if (pid == 0) {
		/* Own process group, so a timeout kills the whole tree (sh -c pipelines included). */
		setpgid(0, 0);
		/* Ignored signals survive exec: give the child the dispositions a shell would. */
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(inp[0], 0);
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		execvp(argv[0], argv);
		int e = errno;
		if (write(execp[1], &e, sizeof e) < 0) {
		}
		_exit(127);
	}
	setpgid(pid, pid); /* also from here: no window where kill(-pid) misses */
	close(inp[0]), close(outp[1]), close(errp[1]), close(execp[1]);
	free(argv);

	int exec_errno = 0;
	while (read(execp[0], &exec_errno, sizeof exec_errno) < 0 && errno == EINTR) {
	}
	close(execp[0]);

	struct capture out = {outp[0], NULL, 0, 0, limit, 0}, err = {errp[0], NULL, 0, 0, limit, 0};
	set_nonblock(out.fd);
	set_nonblock(err.fd);
	int in_fd_w = inp[1];
	size_t in_off = 0;
	if (inlen == 0) {
		close(in_fd_w);
		in_fd_w = -1;
	} else {
		set_nonblock(in_fd_w);
	}

	int status = 0, exited = 0, timed_out = 0;
	int64_t deadline = timeout_ms > 0 ? start + timeout_ms : -1, drain_until = 0, kill_until = 0, end = 0;
	for (;;) {
		int64_t t = now_ms();
		if (exited && out.fd < 0 && err.fd < 0)
			break;
		if (exited && t >= drain_until)
			break;
		if (timed_out && !exited && t >= kill_until)
			break; /* unkillable (D state): answer anyway, reap it later */
		if (!exited && !timed_out && deadline >= 0 && t >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			timed_out = 1;
			kill_until = t + KILL_GRACE_MS;
			continue;
		}
		int64_t wait = -1;
		if (exited)
			wait = drain_until - t;
		else if (timed_out)
			wait = kill_until - t;
		else if (deadline >= 0)
			wait = deadline - t;

		struct pollfd pf[4];
		int n = 0, i_out = -1, i_err = -1, i_in = -1;
		pf[n] = (struct pollfd){sigchld_pipe[0], POLLIN, 0};
		n++;
		if (out.fd >= 0)
			pf[i_out = n++] = (struct pollfd){out.fd, POLLIN, 0};
		if (err.fd >= 0)
			pf[i_err = n++] = (struct pollfd){err.fd, POLLIN, 0};
		if (in_fd_w >= 0)
			pf[i_in = n++] = (struct pollfd){in_fd_w, POLLOUT, 0};
		if (poll(pf, (nfds_t)n, (int)(wait > INT_MAX ? INT_MAX : wait)) < 0 && errno != EINTR)
			break;

		if (pf[0].revents) {
			char junk[64];
			while (read(sigchld_pipe[0], junk, sizeof junk) > 0) {
			}
		}
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			end = now_ms();
			drain_until = end + DRAIN_GRACE_MS;
		}
		if (i_out >= 0 && pf[i_out].revents && capture_read(&out)) {
			close(out.fd);
			out.fd = -1;
		}
		if (i_err >= 0 && pf[i_err].revents && capture_read(&err)) {
			close(err.fd);
			err.fd = -1;
		}
		if (i_in >= 0 && pf[i_in].revents) {
			ssize_t w = write(in_fd_w, in + in_off, inlen - in_off);
			if (w > 0)
				in_off += (size_t)w;
			/* EPIPE: the child stopped reading its stdin; that is its business, not an error. */
			if (in_off == inlen || (w < 0 && errno != EAGAIN && errno != EINTR) || (pf[i_in].revents & POLLERR)) {
				close(in_fd_w);
				in_fd_w = -1;
			}
		}
	}
	if (in_fd_w >= 0)
		close(in_fd_w);
	if (out.fd >= 0)
		close(out.fd);
	if (err.fd >= 0)
		close(err.fd);
	if (!exited)
		end = now_ms();

	if (exec_errno) {
		/* Tell a human reading stderr too; exec_errno= is the machine-readable part. */
		char msg[512];
		int m = snprintf(msg, sizeof msg, "ih-agent: cannot execute '%s': %s\n", argvbuf, strerror(exec_errno));
		struct capture *c = &err;
		char *nb = realloc(c->buf, c->len + (size_t)m);
		if (nb) {
			memcpy(nb + c->len, msg, (size_t)m);
			c->buf = nb;
			c->len += (size_t)m;
			c->total += (uint64_t)m;
		}
	}

	char extra[512], code[16] = "-", sig[32] = "-";
	if (exited && WIFEXITED(status))
		snprintf(code, sizeof code, "%d", WEXITSTATUS(status));
	if (exited && WIFSIGNALED(status)) {
		const char *ab = sigabbrev_np(WTERMSIG(status));
		if (ab)
			snprintf(sig, sizeof sig, "SIG%s", ab);
		else
			snprintf(sig, sizeof sig, "%d", WTERMSIG(status));
	}
	snprintf(extra, sizeof extra,
		 "code=%s signal=%s duration_ms=%lld timed_out=%d reaped=%d exec_errno=%d stdout_total=%llu "
		 "stderr_total=%llu",
		 code, sig, (long long)(end - start), timed_out, exited, exec_errno, (unsigned long long)out.total,
		 (unsigned long long)err.total);
	const char *pay[2] = {out.buf, err.buf};
	size_t lens[2] = {out.len, err.len};
	int r = send_frame("exit", id, extra, 2, pay, lens);
	free(out.buf);
	free(err.buf);
	return r;
}

/* ---------- kmsg: the host cuts the console log at these markers ---------- */

static int handle_kmsg(const char *id, const char *text, size_t len)
{
	int fd = open(kmsg_path, O_WRONLY | O_CLOEXEC | O_APPEND);
	if (fd < 0)
		return send_error(id, errno, "kmsg: open %s: %s", kmsg_path, strerror(errno));
	/* One write() is one log record; /dev/kmsg rejects partial records, so no loop here. */
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n < 0)
		return send_error(id, e, "kmsg: write: %s", strerror(e));
	return send_frame("ok", id, NULL, 0, NULL, NULL);
}

/* ---------- request loop ---------- */

static const char *header_value(char **tok, int ntok, const char *key)
{
	size_t kl = strlen(key);
	for (int i = 4; i < ntok; i++)
		if (strncmp(tok[i], key, kl) == 0 && tok[i][kl] == '=')
			return tok[i] + kl + 1;
	return NULL;
}

static int parse_u64(const char *s, uint64_t *v)
{
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	char *endp;
	errno = 0;
	unsigned long long x = strtoull(s, &endp, 10);
	if (errno || *endp)
		return -1;
	*v = x;
	return 0;
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

/* Returns -1 when the connection is gone (EOF, write error), 0 otherwise. */
static int serve_one(int *desynced)
{
	char line[MAX_HEADER];
	long ll = read_line(line, sizeof line);
	if (ll == -1)
		return -1;

	char *tok[32];
	int ntok = 0;
	char *save = NULL;
	if (ll >= 0)
		for (char *t = strtok_r(line, " ", &save); t && ntok < 32; t = strtok_r(NULL, " ", &save))
			tok[ntok++] = t;

	/* Payload lengths: "-" or "n[,n...]". */
	uint64_t lens[MAX_PAYLOADS], total = 0;
	int npay = 0, ok = ll >= 0 && ntok >= 4 && strcmp(tok[0], "IH1") == 0 && valid_id(tok[2]);
	if (ok && strcmp(tok[3], "-") != 0) {
		char *s2 = NULL;
		for (char *t = strtok_r(tok[3], ",", &s2); t; t = strtok_r(NULL, ",", &s2)) {
			if (npay == MAX_PAYLOADS || parse_u64(t, &lens[npay]) < 0) {
				ok = 0;
				break;
			}
			total += lens[npay++];
		}
	}
	if (!ok) {
		/* We cannot know how many bytes follow a header we cannot parse: say so once, then skip lines
		 * until a valid header appears again. The host treats this as a protocol error anyway. */
		if (!*desynced && send_error("-", EPROTO, "malformed header line") < 0)
			return -1;
		*desynced = 1;
		return 0;
	}
	*desynced = 0;
	const char *type = tok[1], *id = tok[2];

	if (total > MAX_REQUEST_BYTES) {
		if (read_exact(NULL, total) < 0)
			return -1;
		return send_error(id, E2BIG, "request payloads of %llu bytes exceed the %u byte limit",
				  (unsigned long long)total, MAX_REQUEST_BYTES);
	}
	char *payload = malloc(total + 1);
	if (!payload) {
		if (read_exact(NULL, total) < 0)
			return -1;
		return send_error(id, ENOMEM, "out of memory for %llu request bytes", (unsigned long long)total);
	}
	if (read_exact(payload, total) < 0) {
		free(payload);
		return -1;
	}
	payload[total] = 0;

	int r;
	reap_strays();
	if (strcmp(type, "ping") == 0) {
		r = send_frame("pong", id, NULL, 0, NULL, NULL);
	} else if (strcmp(type, "kmsg") == 0 && npay == 1) {
		r = handle_kmsg(id, payload, lens[0]);
	} else if (strcmp(type, "exec") == 0 && npay == 2) {
		uint64_t timeout = 0, limit = DEFAULT_OUTPUT_LIMIT;
		const char *tv = header_value(tok, ntok, "timeout_ms"), *lv = header_value(tok, ntok, "limit");
		if ((tv && parse_u64(tv, &timeout) < 0) || (lv && parse_u64(lv, &limit) < 0) || timeout > INT32_MAX)
			r = send_error(id, EINVAL, "exec: bad timeout_ms or limit");
		else
			r = handle_exec(id, payload, lens[0], payload + lens[0], lens[1], (long)timeout, (size_t)limit);
	} else {
		r = send_error(id, EINVAL, "unknown request '%s' with %d payloads", type, npay);
	}
	free(payload);
	return r;
}

static int send_ready(void)
{
	struct utsname u;
	char extra[64];
	if (uname(&u) < 0)
		snprintf(u.release, sizeof u.release, "unknown");
	snprintf(extra, sizeof extra, "proto=%d pid=%d", PROTO_VERSION, (int)getpid());
	const char *pay[1] = {u.release};
	size_t lens[1] = {strlen(u.release)};
	return send_frame("ready", "-", extra, 1, pay, lens);
}

static void usage(void)
{
	fprintf(stderr, "usage: ih-agent [--port PATH | --stdio] [--kmsg PATH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *port = NULL;
	int use_stdio = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--stdio") == 0)
			use_stdio = 1;
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = argv[++i];
		else if (strcmp(argv[i], "--kmsg") == 0 && i + 1 < argc)
			kmsg_path = argv[++i]; /* tests: keep markers out of the host's log */
		else
			usage();
	}
	if (use_stdio && port)
		usage();

	/* The host going away must show up as a write error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		logmsg("pipe: %s", strerror(errno));
		return 3;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);

	for (;;) {
		if (use_stdio) {
			in_fd = 0;
			out_fd = 1;
		} else {
			int fd = open_port(port);
			if (fd < 0)
				return 3;
			in_fd = out_fd = fd;
		}
		rpos = rlen = 0;
		int desynced = 0;
		if (send_ready() == 0)
			while (serve_one(&desynced) == 0) {
			}
		if (use_stdio)
			return 0;
		/* The host closed its end (or QEMU's chardev was reconnected): reopen and announce again. The
		 * pause keeps a disconnected port, whose read() returns 0 at once, from spinning. */
		close(in_fd);
		sleep_ms(200);
	}
}
