// SPDX-License-Identifier: GPL-2.0
/*
 * ezone in-guest agent: PID 1 of the ezone guest initramfs.
 *
 * It mounts the pseudo file systems, loads the boot modules (pvpanic),
 * then talks to the host over the second UART (/dev/ttyS1), leaving
 * ttyS0 to the kernel console.  Protocol version 2 (see guest/README.md):
 *
 *   guest -> host   READY <nonce> <uname -r>
 *                   HB <seq> <ms since boot>          every hb_ms ms
 *                   OK <id> <text> / ERR <id> <text>  replies
 *   host -> guest   <id> ping | insmod <mod> [p=v ...] | run <prog> [args]
 *                   | runout <prog> [args] | sh <shell line>
 *                   | write <path> <data> | append <path> <data>
 *                   | nowait <any of these> | poweroff
 *
 * `runout` is `run` with the program's stdout kept: the reply carries the
 * last line it printed (OK <id> exit=<code> <line>), e.g. a benchmark's
 * result line.  `sh` hands the rest of the line, verbatim, to /bin/sh -c
 * (replied like runout).  `write`/`append` put <data> (backslash escapes
 * \\ \n \r \t \s \xHH decoded, in one write()) into <path>.  `nowait`
 * answers OK <id> started, drains the reply onto the wire, then runs the
 * command without replying: for faults that take the guest down.  The
 * protocol is documented in guest/agent/PROTOCOL.md.
 *
 * The agent is PID 1: it must never exit (the kernel would panic with
 * "Attempted to kill init", which the host would mistake for the fault it
 * injected).  Every error is reported on the control channel and the loop
 * goes on.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define AGENT_PROTOCOL		2
/* The console loglevel from READY on: the kernel's default (all but debug). */
#define CONSOLE_LOGLEVEL	7
#define SYSLOG_ACTION_CONSOLE_LEVEL	8
#define CONTROL_TTY		"/dev/ttyS1"
#define MODULE_DIR		"/lib/modules/ezone"
#define BOOT_MODULE_LIST	"/etc/ezone/boot-modules"
#define MAX_LINE		512
#define MAX_ARGS		32
#define MAX_CHILDREN		16
#define DEFAULT_HB_MS		100
/* runout: the last stdout line kept for the reply (the reply line must stay
 * under the host's MAX_LINE). */
#define MAX_OUT_LINE		400

struct child {
	pid_t pid;
	unsigned long id;
	int quiet;			/* nowait: no reply when it ends */
	int runout;			/* its stdout is kept for the reply */
	int out_fd;			/* runout: read end of its stdout, else -1 */
	size_t out_len;			/* bytes in out_cur */
	char out_cur[MAX_OUT_LINE + 1];	/* the line being written */
	char out_last[MAX_OUT_LINE + 1];	/* the last complete line */
};

static int ctl_fd = -1;
static const char *control_tty = CONTROL_TTY;
/* The request being served: its id, and whether its reply is to be dropped
 * (nowait: the host already got "OK <id> started"). */
static int quiet;
static struct child children[MAX_CHILDREN];
static char nonce[128] = "-";
/* ezone.autoload=<module>:<p1=v1,p2=v2>: load a module right after READY,
 * without a host command. Used by the bare-QEMU baseline of the benchmark. */
static char autoload[256];
static unsigned long hb_ms = DEFAULT_HB_MS;
/* ezone.ctl=<tty>: the control channel, /dev/ttyS1 unless told (the xen
 * plugin's PVH domUs: hvc0, Xen's PV console; issue 22). */
static char control_tty_buf[64];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Diagnostics go to the kernel log (and so to the console): keep them rare. */
static void vklog(int level, const char *fmt, va_list ap)
{
	char buf[256];
	int fd, n;

	n = snprintf(buf, sizeof(buf), "<%d>ezone-agent: ", level);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, buf, n) < 0) {
			/* nothing else to do */
		}
		close(fd);
	}
}

static void klog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(4, fmt, ap);
	va_end(ap);
}

/* An error that must reach even a quiet console (KERN_ERR). */
static void klog_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(3, fmt, ap);
	va_end(ap);
}

/* Write one whole line; drop it if the host does not drain within ~200 ms. */
static void send_line(const char *fmt, ...)
{
	char buf[MAX_LINE + 64];
	va_list ap;
	size_t len, off = 0;
	int n, tries = 0;

	if (ctl_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	len = (size_t)n < sizeof(buf) - 2 ? (size_t)n : sizeof(buf) - 2;
	buf[len++] = '\n';
	while (off < len) {
		ssize_t w = write(ctl_fd, buf + off, len - off);

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return;
		if (++tries > 20)
			return;
		struct pollfd p = { .fd = ctl_fd, .events = POLLOUT };

		poll(&p, 1, 10);
	}
}

/*
 * A reply to a request: "OK <id> <text>" or "ERR <id> <text>". A silent
 * request (nowait: the host already has "OK <id> started") sends nothing;
 * its errors go to the kernel log, and so to the console, as evidence.
 */
static void vreply_to(int silent, int ok, unsigned long id, const char *fmt,
		      va_list ap)
{
	char text[MAX_LINE];

	vsnprintf(text, sizeof(text), fmt, ap);
	if (!silent)
		send_line("%s %lu%s%s", ok ? "OK" : "ERR", id, text[0] ? " " : "",
			  text);
	else if (!ok)
		klog("nowait %lu: %s", id, text);
}

static void reply_to(int silent, int ok, unsigned long id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply_to(silent, ok, id, fmt, ap);
	va_end(ap);
}

/* A reply to the request being served now. */
static void reply(int ok, unsigned long id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply_to(quiet, ok, id, fmt, ap);
	va_end(ap);
}

/*
 * Protocol 2: the host boots the guest with "quiet" (each console byte is
 * an exit to the VMM, and costs a millisecond under nested KVM on TCG), and
 * everything from READY on must reach the console as on a loud boot: a user
 * segfault, an OOM kill and the kernel's other news print at KERN_INFO or
 * KERN_WARNING.  Raised, never lowered: a guest booted with loglevel=8
 * keeps it.
 */
static void raise_console_loglevel(void)
{
	char buf[64] = "";
	int fd = open("/proc/sys/kernel/printk", O_RDONLY | O_CLOEXEC);
	int level = -1;

	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		if (n > 0) {
			buf[n] = 0;
			level = atoi(buf);
		}
		close(fd);
	}
	if (level >= CONSOLE_LOGLEVEL)
		return;
	if (syscall(SYS_syslog, SYSLOG_ACTION_CONSOLE_LEVEL, NULL, CONSOLE_LOGLEVEL) < 0)
		klog_err("console loglevel not raised to %d: %s", CONSOLE_LOGLEVEL,
			 strerror(errno));
}

static void do_mounts(void)
{
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) &&
	    errno != EBUSY)
		klog("mount /proc: %s", strerror(errno));
	if (mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) &&
	    errno != EBUSY)
		klog("mount /sys: %s", strerror(errno));
	if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") &&
	    errno != EBUSY)
		klog("mount /dev: %s", strerror(errno));
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") &&
	    errno != EBUSY)
		klog("mount /tmp: %s", strerror(errno));
}

static int load_module(const char *path, const char *params)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = (int)syscall(SYS_finit_module, fd, params, 0);
	if (ret)
		ret = -errno;
	close(fd);
	return ret;
}

/* One absolute .ko path per line, in dependency order. */
static void load_boot_modules(void)
{
	char line[512];
	FILE *f = fopen(BOOT_MODULE_LIST, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		int ret;

		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		ret = load_module(line, "");
		if (ret && ret != -EEXIST)
			klog("boot module %s: %s", line, strerror(-ret));
	}
	fclose(f);
}

static void parse_cmdline(void)
{
	char buf[4096];
	char *tok, *save = NULL;
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (!strncmp(tok, "ezone.nonce=", 12)) {
			snprintf(nonce, sizeof(nonce), "%s", tok + 12);
		} else if (!strncmp(tok, "ezone.autoload=", 15)) {
			snprintf(autoload, sizeof(autoload), "%s", tok + 15);
		} else if (!strncmp(tok, "ezone.ctl=", 10) && tok[10] &&
			   !strchr(tok + 10, '/') && strlen(tok + 10) < 32) {
			snprintf(control_tty_buf, sizeof(control_tty_buf), "/dev/%s", tok + 10);
			control_tty = control_tty_buf;
		} else if (!strncmp(tok, "ezone.hb_ms=", 12)) {
			char *end;
			unsigned long v = strtoul(tok + 12, &end, 10);

			if (*end == '\0' && v >= 1 && v <= 600000)
				hb_ms = v;
		}
	}
}

static int open_control(void)
{
	struct termios t;
	int fd, i;

	/* devtmpfs may need a moment for the UART node on a slow boot. */
	for (i = 0; i < 200; i++) {
		fd = open(control_tty, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0)
			break;
		usleep(10000);
	}
	if (fd < 0) {
		klog("open %s: %s", control_tty, strerror(errno));
		return -1;
	}
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL | CREAD;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		cfsetispeed(&t, B115200);
		cfsetospeed(&t, B115200);
		if (tcsetattr(fd, TCSANOW, &t))
			klog("tcsetattr: %s", strerror(errno));
		tcflush(fd, TCIFLUSH);
	}
	return fd;
}

static int split_args(char *s, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(s, " \t", &save); tok;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (argc >= max - 1)
			return -1;
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	return argc;
}

static int valid_module_name(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > 64)
		return 0;
	for (; *m; m++)
		if (!isalnum((unsigned char)*m) && *m != '_' && *m != '-')
			return 0;
	return 1;
}

static void do_autoload(void)
{
	char path[128], *params, *p;
	int ret;

	if (!autoload[0])
		return;
	params = strchr(autoload, ':');
	if (params)
		*params++ = '\0';
	else
		params = autoload + strlen(autoload);
	for (p = params; *p; p++)
		if (*p == ',')
			*p = ' ';
	if (!valid_module_name(autoload)) {
		klog("autoload: bad module name");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.ko", MODULE_DIR, autoload);
	ret = load_module(path, params);
	if (ret)
		klog("autoload %s: %s", autoload, strerror(-ret));
}

static void cmd_insmod(unsigned long id, char *rest)
{
	char *argv[MAX_ARGS];
	char path[128], params[MAX_LINE];
	size_t off = 0;
	int argc, i, ret;

	argc = split_args(rest, argv, MAX_ARGS);
	if (argc < 1) {
		reply(0, id, "usage: insmod <module> [param=value ...]");
		return;
	}
	if (!valid_module_name(argv[0])) {
		reply(0, id, "bad module name");
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.ko", MODULE_DIR, argv[0]);
	params[0] = '\0';
	for (i = 1; i < argc; i++) {
		int n = snprintf(params + off, sizeof(params) - off, "%s%s",
				 off ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(params) - off) {
			reply(0, id, "parameters too long");
			return;
		}
		off += (size_t)n;
	}
	ret = load_module(path, params);
	if (ret)
		reply(0, id, "%s", strerror(-ret));
	else
		reply(1, id, "loaded");
}

/* Reads what a runout child wrote so far; keeps its last complete line. */
static void drain_output(struct child *c)
{
	char buf[512];
	ssize_t r, i;

	if (c->out_fd < 0)
		return;
	while ((r = read(c->out_fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < r; i++) {
			char ch = buf[i];

			if (ch == '\n') {
				if (c->out_len) {
					memcpy(c->out_last, c->out_cur, c->out_len);
					c->out_last[c->out_len] = '\0';
				}
				c->out_len = 0;
			} else if (c->out_len < MAX_OUT_LINE) {
				/* The reply is a protocol line: printable only. */
				c->out_cur[c->out_len++] =
					isprint((unsigned char)ch) ? ch : '?';
			}
		}
	}
	if (r == 0) {		/* EOF: every writer closed it */
		close(c->out_fd);
		c->out_fd = -1;
	}
}

static void spawn(unsigned long id, char **argv, int keep_output)
{
	int slot, fd, out[2] = { -1, -1 };
	pid_t pid;

	for (slot = 0; slot < MAX_CHILDREN; slot++)
		if (children[slot].pid == 0)
			break;
	if (slot == MAX_CHILDREN) {
		reply(0, id, "too many running commands");
		return;
	}
	if (keep_output && pipe2(out, O_CLOEXEC)) {
		reply(0, id, "%s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		reply(0, id, "%s", strerror(errno));
		if (keep_output) {
			close(out[0]);
			close(out[1]);
		}
		return;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(keep_output ? out[1] : fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	children[slot].pid = pid;
	children[slot].id = id;
	children[slot].quiet = quiet;
	children[slot].runout = keep_output;
	children[slot].out_fd = -1;
	children[slot].out_len = 0;
	children[slot].out_last[0] = '\0';
	if (keep_output) {
		close(out[1]);
		fcntl(out[0], F_SETFL, O_NONBLOCK);
		children[slot].out_fd = out[0];
	}
}

static void cmd_run(unsigned long id, char *rest, int keep_output)
{
	char *argv[MAX_ARGS];

	if (split_args(rest, argv, MAX_ARGS) < 1) {
		reply(0, id, "usage: %s <program> [args...]",
		      keep_output ? "runout" : "run");
		return;
	}
	spawn(id, argv, keep_output);
}

/* sh: the rest of the line, verbatim, is the shell's script; its last line
 * of stdout comes back as with runout. */
static void cmd_sh(unsigned long id, char *rest)
{
	char *argv[] = { "/bin/sh", "-c", rest, NULL };

	if (*rest == '\0') {
		reply(0, id, "usage: sh <shell command line>");
		return;
	}
	spawn(id, argv, 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the escapes of write/append in place: \\ \n \r \t \s (a space)
 * and \xHH (any byte). Returns the decoded length, or -1 on a bad escape.
 */
static ssize_t unescape(char *s)
{
	char *in = s, *out = s;

	while (*in) {
		int hi, lo;

		if (*in != '\\') {
			*out++ = *in++;
			continue;
		}
		switch (in[1]) {
		case '\\': *out++ = '\\'; in += 2; break;
		case 'n': *out++ = '\n'; in += 2; break;
		case 'r': *out++ = '\r'; in += 2; break;
		case 't': *out++ = '\t'; in += 2; break;
		case 's': *out++ = ' '; in += 2; break;
		case 'x':
			hi = hex_digit(in[2]);
			lo = hi < 0 ? -1 : hex_digit(in[3]);
			if (lo < 0)
				return -1;
			*out++ = (char)(hi * 16 + lo);
			in += 4;
			break;
		default:
			return -1;
		}
	}
	*out = '\0';
	return out - s;
}

/*
 * write/append <path> <data>: <path> is the first word (escapes decoded, so
 * \s or \x20 is a space in it); <data> is everything after the one blank
 * that ends it, escapes decoded, written with a single write() (what
 * /proc and /sys files want). The agent writes it itself, so a write that
 * crashes the kernel (/proc/sysrq-trigger) never returns: use nowait.
 */
static void cmd_write(unsigned long id, char *rest, int append)
{
	char *path = rest, *data;
	ssize_t plen, dlen, w;
	int fd;

	data = path + strcspn(path, " \t");
	if (data == path) {
		reply(0, id, "usage: %s <path> <data>", append ? "append" : "write");
		return;
	}
	if (*data)
		*data++ = '\0';	/* exactly one blank ends the path */
	plen = unescape(path);
	dlen = unescape(data);
	if (plen <= 0 || dlen < 0) {
		reply(0, id, "bad escape (use \\\\ \\n \\r \\t \\s \\xHH)");
		return;
	}
	if ((size_t)plen != strlen(path)) {
		reply(0, id, "NUL byte in path");
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY |
		  (append ? O_APPEND : O_TRUNC), 0644);
	if (fd < 0) {
		reply(0, id, "%s: %s", path, strerror(errno));
		return;
	}
	do {
		w = write(fd, data, (size_t)dlen);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		reply(0, id, "%s: %s", path, strerror(errno));
	} else if (w != dlen) {
		reply(0, id, "%s: short write %zd of %zd", path, w, dlen);
	} else if (close(fd) < 0) {
		fd = -1;
		reply(0, id, "%s: %s", path, strerror(errno));
	} else {
		fd = -1;
		reply(1, id, "wrote=%zd", w);
	}
	if (fd >= 0)
		close(fd);
}

static void reap_children(void)
{
	int status, i;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_CHILDREN; i++) {
			struct child *c = &children[i];
			const char *sep = "";

			if (c->pid != pid)
				continue;
			if (c->runout) {
				/* A last line without its newline counts too. */
				drain_output(c);
				if (c->out_len) {
					memcpy(c->out_last, c->out_cur, c->out_len);
					c->out_last[c->out_len] = '\0';
				}
				if (c->out_fd >= 0)
					close(c->out_fd);
				c->out_fd = -1;
				sep = c->out_last[0] ? " " : "";
			}
			/* Under nowait, only a failure is worth a log line. */
			if (WIFEXITED(status))
				reply_to(c->quiet,
					 !c->quiet || WEXITSTATUS(status) == 0,
					 c->id, "exit=%d%s%s", WEXITSTATUS(status),
					 sep, c->out_last);
			else if (WIFSIGNALED(status))
				reply_to(c->quiet, 0, c->id, "signal=%d%s%s",
					 WTERMSIG(status), sep, c->out_last);
			c->pid = 0;
			c->out_last[0] = '\0';
			break;
		}
		/* Orphans re-parented to PID 1 are simply reaped. */
	}
}

static void cmd_poweroff(unsigned long id)
{
	reply(1, id, "");
	tcdrain(ctl_fd);
	sync();
	reboot(RB_POWER_OFF);
	/* Still here: say so and keep serving. */
	reply(0, id, "%s", strerror(errno));
}

static int is_cmd(const char *cmd, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(cmd, name, n) && (cmd[n] == ' ' || cmd[n] == '\t' ||
					  cmd[n] == '\0');
}

/* Skips the command word and the blanks after it. */
static char *args_of(char *cmd)
{
	char *rest = cmd + strcspn(cmd, " \t");

	while (*rest == ' ' || *rest == '\t')
		rest++;
	return rest;
}

static void dispatch(unsigned long id, char *cmd, char *rest)
{
	if (is_cmd(cmd, "ping") && *rest == '\0')
		reply(1, id, "pong");
	else if (is_cmd(cmd, "insmod"))
		cmd_insmod(id, rest);
	else if (is_cmd(cmd, "run"))
		cmd_run(id, rest, 0);
	else if (is_cmd(cmd, "runout"))
		cmd_run(id, rest, 1);
	else if (is_cmd(cmd, "sh"))
		cmd_sh(id, rest);
	else if (is_cmd(cmd, "write"))
		cmd_write(id, rest, 0);
	else if (is_cmd(cmd, "append"))
		cmd_write(id, rest, 1);
	else if (is_cmd(cmd, "poweroff") && *rest == '\0')
		cmd_poweroff(id);
	else if (is_cmd(cmd, "nowait") && !quiet && *rest != '\0' &&
		 !is_cmd(rest, "nowait")) {
		/* Acknowledge, make sure the bytes left the guest (the UART's
		 * host side has them), then run the command silently. */
		send_line("OK %lu started", id);
		tcdrain(ctl_fd);
		quiet = 1;
		dispatch(id, rest, args_of(rest));
		quiet = 0;
	} else
		reply(0, id, "unknown command");
}

static void handle_line(char *line)
{
	unsigned long id = 0;
	char *p = line, *cmd, *rest;

	for (; *p; p++)
		if (!isprint((unsigned char)*p) && *p != '\t') {
			send_line("ERR 0 malformed line");
			return;
		}
	p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return;		/* empty lines are ignored */
	if (!isdigit((unsigned char)*p)) {
		send_line("ERR 0 malformed line");
		return;
	}
	errno = 0;
	id = strtoul(p, &p, 10);
	if (errno || (*p != ' ' && *p != '\t' && *p != '\0')) {
		send_line("ERR 0 malformed line");
		return;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	cmd = p;
	rest = args_of(cmd);

	dispatch(id, cmd, rest);
}

/* Line assembly: over-long lines are answered once and skipped. */
static char inbuf[MAX_LINE + 1];
static size_t inlen;
static int discarding;

static void feed(const char *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			if (discarding) {
				discarding = 0;
			} else {
				if (inlen && inbuf[inlen - 1] == '\r')
					inlen--;
				inbuf[inlen] = '\0';
				handle_line(inbuf);
			}
			inlen = 0;
			continue;
		}
		if (discarding)
			continue;
		if (inlen >= MAX_LINE) {
			send_line("ERR 0 line too long");
			discarding = 1;
			inlen = 0;
			continue;
		}
		inbuf[inlen++] = c;
	}
}

int main(int argc, char **argv)
{
	struct utsname uts;
	struct pollfd pfd[2 + MAX_CHILDREN];
	int slot_of[2 + MAX_CHILDREN];
	uint64_t start, next_hb;
	unsigned long seq = 0;
	sigset_t mask;
	int sfd, nfds, i;

	signal(SIGPIPE, SIG_IGN);
	if (getpid() == 1) {
		setsid();
		do_mounts();
	} else if (argc > 1) {
		/* Not init: a test on the host names its control tty (a pty). */
		control_tty = argv[1];
	}
	setenv("PATH", "/sbin:/bin:/usr/sbin:/usr/bin", 1);
	load_boot_modules();
	parse_cmdline();

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	for (;;) {
		ctl_fd = open_control();
		if (ctl_fd >= 0)
			break;
		sleep(1);	/* never exit: we are init */
	}
	if (getpid() == 1)
		raise_console_loglevel();
	if (uname(&uts))
		snprintf(uts.release, sizeof(uts.release), "unknown");
	send_line("READY %s %s", nonce, uts.release);
	do_autoload();

	start = now_ms();
	next_hb = start + hb_ms;
	for (;;) {
		uint64_t now = now_ms();
		int timeout, n;

		if (now >= next_hb) {
			send_line("HB %lu %llu", ++seq, (unsigned long long)now);
			next_hb += hb_ms;
			if (next_hb <= now)	/* fell behind: keep the phase */
				next_hb = now + hb_ms - (now - start) % hb_ms;
			continue;
		}
		timeout = (int)(next_hb - now);
		pfd[0].fd = ctl_fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = sfd;	/* poll skips it when negative */
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		nfds = 2;
		/* runout children: their stdout is drained as it comes, so a
		 * chatty program never blocks on a full pipe. */
		for (i = 0; i < MAX_CHILDREN; i++) {
			if (children[i].pid == 0 || children[i].out_fd < 0)
				continue;
			pfd[nfds].fd = children[i].out_fd;
			pfd[nfds].events = POLLIN;
			pfd[nfds].revents = 0;
			slot_of[nfds++] = i;
		}
		n = poll(pfd, nfds, sfd >= 0 ? timeout :
			 (timeout < 20 ? timeout : 20));
		if (n < 0 && errno != EINTR) {
			usleep(1000);
			continue;
		}
		if (sfd >= 0 && (pfd[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) > 0)
				;
		}
		for (i = 2; n > 0 && i < nfds; i++)
			if (pfd[i].revents)
				drain_output(&children[slot_of[i]]);
		reap_children();
		if (pfd[0].revents & POLLIN) {
			char buf[256];
			ssize_t r;

			while ((r = read(ctl_fd, buf, sizeof(buf))) > 0)
				feed(buf, (size_t)r);
		} else if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
			usleep(10000);	/* avoid a busy loop on a broken tty */
		}
	}
}
