// SPDX-License-Identifier: GPL-2.0
/*
 * ezone-fault: guest user-space faults (E-Zone 4) and host pressure from
 * inside the guest, run by the agent:  <id> run ezone-fault <mode> [arg]
 *
 *   segv                 write through NULL; dies by SIGSEGV
 *   oom [MiB]            allocate and touch memory until the OOM killer
 *                        kills this process (or MiB is reached: exit 0)
 *   forkbomb [seconds]   fork as fast as possible for seconds (default 10);
 *                        the children sleep until the end
 *   cpuhog [seconds]     spin on every online CPU for seconds (default 10)
 *   diskflood [MiB]      write MiB (default: the whole disk) to /dev/vda,
 *                        O_DIRECT when the device allows it
 *   netflood [seconds]   bring eth0 up as 10.0.2.15/24 and send UDP to
 *                        10.0.2.2:9 as fast as possible (default 10 s)
 *   lkdtm TYPE [wait_ms] fire LKDTM's crash type TYPE (lkdtm.ko loaded)
 *                        through /sys/kernel/debug/provoke-crash/DIRECT from
 *                        a child process, wait up to wait_ms (default 2000)
 *                        and print one line on stdout for the lkdtm plugin:
 *                        "child=<exited|killed|running> signal=<n>
 *                        lkdtm=<none|fail|xfail|warning> line=<LKDTM's words>"
 *
 * The virtio drivers are not boot modules (they cost boot time and most
 * checks do not need them): diskflood and netflood load them here, from the
 * lists /etc/ezone/modules-disk and /etc/ezone/modules-net (module paths in
 * dependency order, written by guest/build-initramfs.sh).
 *
 * Exit status: 0 done, 1 bad usage or an unexpected error, 2 the device
 * (disk or NIC) is not there.  Messages (a line or two per run) go to
 * /dev/kmsg, prefixed "ezone-fault:", so they show on the guest console.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_USAGE	1
#define EXIT_NODEV	2
#define MIB		(1024UL * 1024UL)

#define DISK_DEV	"/dev/vda"
#define DISK_MODULES	"/etc/ezone/modules-disk"
#define NET_IF		"eth0"
#define NET_MODULES	"/etc/ezone/modules-net"
#define NET_ADDR	"10.0.2.15"
#define NET_MASK	"255.255.255.0"
#define NET_PEER	"10.0.2.2"	/* QEMU user networking: the host */
#define NET_PORT	9		/* discard */

static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, n;

	n = snprintf(buf, sizeof(buf), "<5>ezone-fault: ");
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf) - 1)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, buf, n) < 0) {
			/* nowhere else to say it */
		}
		close(fd);
	}
	/* Also stderr, for a run by hand (the agent gives /dev/null). */
	fprintf(stderr, "%.*s", n - 3, buf + 3);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_num(const char *s, unsigned long def, unsigned long *out)
{
	char *end;

	if (!s) {
		*out = def;
		return 0;
	}
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *out == 0)
		return -1;
	return 0;
}

/* Be the first (and only useful) choice of the OOM killer. */
static void prefer_oom_kill(void)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, "1000", 4) < 0) {
			/* best effort */
		}
		close(fd);
	}
}

/* Milliseconds spent loading drivers on demand (0: none were needed). */
static double load_ms;

/* Load the modules listed in @list (paths, dependency order). */
static void load_modules(const char *list)
{
	double t0 = now_s();

	char path[512];
	FILE *f = fopen(list, "re");

	if (!f)
		return;
	while (fgets(path, sizeof(path), f)) {
		int fd;

		path[strcspn(path, "\n")] = '\0';
		if (!path[0])
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("cannot open %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
			say("loading %s: %s", path, strerror(errno));
		close(fd);
	}
	fclose(f);
	load_ms = (now_s() - t0) * 1000;
}

/* Is there a virtio PCI device of this kind (transitional or modern id)? */
static int has_virtio_pci(unsigned int legacy_id, unsigned int modern_id)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 1;	/* cannot tell: try the drivers anyway */
	while (!found && (e = readdir(d))) {
		char path[300];
		unsigned int vendor = 0, device = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%x", &vendor) != 1)
			vendor = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%x", &device) != 1)
			device = 0;
		fclose(f);
		found = vendor == 0x1af4 && (device == legacy_id || device == modern_id);
	}
	closedir(d);
	return found;
}

/* Wait up to @ms for @path to exist. */
static int wait_for(const char *path, int ms)
{
	struct stat st;
	int i;

	for (i = 0; i <= ms / 10; i++) {
		if (!stat(path, &st))
			return 0;
		usleep(10000);
	}
	return -1;
}

/* Read at run time, so the compiler cannot turn the store into a trap. */
static int *volatile null_ptr;

static int do_segv(void)
{
	say("segv: writing through NULL");
	*null_ptr = 1;
	return 0;
}

static int do_oom(unsigned long limit_mib)
{
	unsigned long mib = 0;

	prefer_oom_kill();
	if (limit_mib)
		say("oom: allocating up to %lu MiB", limit_mib);
	else
		say("oom: allocating until the OOM killer acts");
	while (!limit_mib || mib < limit_mib) {
		char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			/* overcommit refused it: retry until the killer comes */
			usleep(1000);
			continue;
		}
		memset(p, 0xa5, MIB);
		mib++;
	}
	say("oom: %lu MiB allocated and touched, no OOM kill", mib);
	return 0;
}

static void sleep_until(double deadline)
{
	double left;

	while ((left = deadline - now_s()) > 0) {
		struct timespec ts = {
			.tv_sec = (time_t)left,
			.tv_nsec = (long)((left - (time_t)left) * 1e9),
		};

		nanosleep(&ts, NULL);
	}
}

static int do_forkbomb(unsigned long secs)
{
	double t0 = now_s(), deadline = t0 + secs;
	unsigned long forks = 0, failed = 0;

	prefer_oom_kill();	/* inherited by the children */
	setpgid(0, 0);		/* own group for the final kill (if not yet) */
	say("forkbomb: forking for %lu s", secs);
	while (now_s() < deadline) {
		pid_t pid = fork();

		if (pid == 0) {
			sleep_until(deadline);
			_exit(0);
		}
		if (pid < 0) {
			failed++;
			/* Reap what already ended, then press on. */
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		forks++;
	}
	/* The children end by themselves at the deadline; make sure. */
	signal(SIGTERM, SIG_IGN);
	kill(0, SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	say("forkbomb: %lu forks, %lu failed, in %.1f s", forks, failed,
	    now_s() - t0);
	return 0;
}

static void spin_until(double deadline)
{
	volatile unsigned long x = 0;

	while (now_s() < deadline) {
		int i;

		for (i = 0; i < 100000; i++)
			x++;
	}
}

static int do_cpuhog(unsigned long secs)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double deadline = now_s() + secs;
	long i;

	if (cpus < 1)
		cpus = 1;
	say("cpuhog: spinning on %ld CPUs for %lu s", cpus, secs);
	for (i = 1; i < cpus; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			spin_until(deadline);
			_exit(0);
		}
	}
	spin_until(deadline);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	say("cpuhog: done");
	return 0;
}

static int do_diskflood(unsigned long limit_mib)
{
	unsigned long long size = 0, off = 0, written = 0, total;
	int fd, direct = 1;
	double t0;
	void *buf;

	if (access(DISK_DEV, F_OK) && has_virtio_pci(0x1001, 0x1042)) {
		load_modules(DISK_MODULES);
		wait_for(DISK_DEV, 2000);
	}
	fd = open(DISK_DEV, O_WRONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0 && errno == EINVAL) {
		direct = 0;
		fd = open(DISK_DEV, O_WRONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		say("diskflood: no disk: %s: %s", DISK_DEV, strerror(errno));
		return EXIT_NODEV;
	}
	if (ioctl(fd, _IOR(0x12, 114, size_t), &size) || size < MIB) {
		/* BLKGETSIZE64 failed or a tiny disk */
		say("diskflood: %s is too small or has no size", DISK_DEV);
		close(fd);
		return EXIT_NODEV;
	}
	size -= size % MIB;
	total = limit_mib ? limit_mib * MIB : size;
	if (posix_memalign(&buf, 4096, MIB)) {
		close(fd);
		return EXIT_USAGE;
	}
	memset(buf, 0x5a, MIB);
	say("diskflood: writing %llu MiB to %s (%llu MiB)%s, driver load %.0f ms",
	    total / MIB, DISK_DEV, size / MIB, direct ? " with O_DIRECT" : "",
	    load_ms);
	t0 = now_s();
	while (written < total) {
		ssize_t w = pwrite(fd, buf, MIB, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			say("diskflood: write at %llu: %s", off, strerror(errno));
			close(fd);
			return EXIT_USAGE;
		}
		written += (unsigned long long)w;
		off += (unsigned long long)w;
		if (off >= size)
			off = 0;	/* wrap: the amount is what counts */
	}
	if (!direct)
		fdatasync(fd);
	close(fd);
	say("diskflood: wrote %llu MiB in %.1f s", written / MIB, now_s() - t0);
	return 0;
}

static int set_addr(int s, unsigned long req, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", NET_IF);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	return ioctl(s, req, &ifr);
}

static int net_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", NET_IF);
	if (set_addr(s, SIOCSIFADDR, NET_ADDR) ||
	    set_addr(s, SIOCSIFNETMASK, NET_MASK) ||
	    ioctl(s, SIOCGIFFLAGS, &ifr)) {
		close(s);
		return -1;
	}
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
		close(s);
		return -1;
	}
	close(s);
	return 0;
}

static int do_netflood(unsigned long secs)
{
	static char payload[1472];	/* one Ethernet frame, no fragments */
	unsigned long long sent = 0, dropped = 0;
	struct sockaddr_in peer = {
		.sin_family = AF_INET,
		.sin_port = htons(NET_PORT),
	};
	double t0, deadline;
	int s;

	if (access("/sys/class/net/" NET_IF, F_OK) &&
	    has_virtio_pci(0x1000, 0x1041)) {
		load_modules(NET_MODULES);
		wait_for("/sys/class/net/" NET_IF, 2000);
	}
	if (access("/sys/class/net/" NET_IF, F_OK)) {
		say("netflood: no NIC (%s absent)", NET_IF);
		return EXIT_NODEV;
	}
	if (net_up()) {
		say("netflood: cannot configure %s: %s", NET_IF, strerror(errno));
		return EXIT_USAGE;
	}
	inet_pton(AF_INET, NET_PEER, &peer.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		say("netflood: socket: %s", strerror(errno));
		return EXIT_USAGE;
	}
	memset(payload, 0x6e, sizeof(payload));
	say("netflood: %s up as %s, UDP to %s:%d for %lu s, driver load %.0f ms",
	    NET_IF, NET_ADDR, NET_PEER, NET_PORT, secs, load_ms);
	t0 = now_s();
	deadline = t0 + secs;
	while (now_s() < deadline) {
		int i;

		for (i = 0; i < 64; i++) {
			if (sendto(s, payload, sizeof(payload), 0,
				   (struct sockaddr *)&peer, sizeof(peer)) < 0)
				dropped++;	/* ENOBUFS, EAGAIN, no ARP yet */
			else
				sent++;
		}
	}
	close(s);
	say("netflood: %llu datagrams (%llu MiB) sent, %llu refused, in %.1f s",
	    sent, sent * sizeof(payload) / MIB, dropped, now_s() - t0);
	return 0;
}

#define LKDTM_DIR	"/sys/kernel/debug/provoke-crash"

/* Lower a watchdog's threshold so LKDTM's lockups are reported in seconds. */
static void write_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		say("lkdtm: %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * What LKDTM said about the test, from the kernel log records since the fire:
 * XFAIL (it cannot run here), FAIL (it ran and the kernel did not stop it),
 * or a WARNING (the kernel noticed and went on).
 */
static const char *lkdtm_said(int kmsg, char *line, size_t size)
{
	const char *said = "none";
	char rec[1024];
	ssize_t n;

	line[0] = '\0';
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		char *text, *nl;

		if (n < 0)
			continue;	/* overwritten records: read on */
		rec[n] = '\0';
		text = strchr(rec, ';');	/* "<prio>,<seq>,<usec>,<flags>;text" */
		text = text ? text + 1 : rec;
		nl = strchr(text, '\n');
		if (nl)
			*nl = '\0';
		if (strstr(text, "lkdtm: XFAIL")) {
			said = "xfail";
		} else if (strstr(text, "lkdtm: FAIL") && strcmp(said, "xfail")) {
			said = "fail";
		} else if (!strncmp(text, "WARNING: ", 9) && !strcmp(said, "none")) {
			said = "warning";
		} else {
			continue;
		}
		snprintf(line, size, "%.*s", (int)size - 1, text);
	}
	return said;
}

static int do_lkdtm(const char *type, unsigned long wait_ms)
{
	char direct[] = LKDTM_DIR "/DIRECT", line[300];
	const char *said, *child = "running";
	int kmsg, status = 0, sig = 0;
	double deadline;
	pid_t pid;

	if (access(direct, W_OK) &&
	    mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) && errno != EBUSY)
		say("lkdtm: mount debugfs: %s", strerror(errno));
	if (access(direct, W_OK)) {
		say("lkdtm: %s: %s (lkdtm.ko not loaded?)", direct, strerror(errno));
		return EXIT_NODEV;
	}
	/* LKDTM's lockup types are meant for watchdogs set tighter than the defaults. */
	if (!strcmp(type, "HUNG_TASK"))
		write_sysctl("/proc/sys/kernel/hung_task_timeout_secs", "2");
	if (strstr(type, "LOCKUP"))
		write_sysctl("/proc/sys/kernel/watchdog_thresh", "1");

	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	say("lkdtm: firing %s", type);
	pid = fork();
	if (pid < 0) {
		say("lkdtm: fork: %s", strerror(errno));
		return EXIT_USAGE;
	}
	if (pid == 0) {
		/* The crash happens in this process's context, never in the agent's. */
		int fd = open(direct, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, type, strlen(type)) < 0)
			_exit(errno == EINVAL ? 3 : 4);
		_exit(0);
	}
	deadline = now_s() + wait_ms / 1000.0;
	while (now_s() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			child = WIFSIGNALED(status) ? "killed" : "exited";
			sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
			break;
		}
		usleep(20000);
	}
	said = kmsg >= 0 ? lkdtm_said(kmsg, line, sizeof(line)) : "none";
	if (!strcmp(child, "exited") && WEXITSTATUS(status) == 3) {
		say("lkdtm: this lkdtm.ko has no crash type %s", type);
		return EXIT_USAGE;
	}
	/* One line, key=value, for the plugin; LKDTM's own words last. */
	printf("child=%s signal=%d lkdtm=%s line=%s\n", child, sig, said, line);
	fflush(stdout);
	return 0;
}

static int usage(void)
{
	say("usage: ezone-fault segv | oom [MiB] | forkbomb [s] | cpuhog [s] | "
	    "diskflood [MiB] | netflood [s] | lkdtm TYPE [wait_ms]");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : NULL;
	unsigned long n;

	if (argc > (strcmp(mode, "lkdtm") ? 3 : 4))
		return usage();
	if (!strcmp(mode, "segv") && !arg)
		return do_segv();
	if (!strcmp(mode, "oom") && !parse_num(arg, 0, &n))
		return do_oom(arg ? n : 0);
	if (!strcmp(mode, "forkbomb") && !parse_num(arg, 10, &n))
		return do_forkbomb(n);
	if (!strcmp(mode, "cpuhog") && !parse_num(arg, 10, &n))
		return do_cpuhog(n);
	if (!strcmp(mode, "diskflood") && !parse_num(arg, 0, &n))
		return do_diskflood(arg ? n : 0);
	if (!strcmp(mode, "netflood") && !parse_num(arg, 10, &n))
		return do_netflood(n);
	if (!strcmp(mode, "lkdtm") && arg && argc > 2) {
		const char *wait = argc > 3 ? argv[3] : NULL;

		if (parse_num(wait, 2000, &n))
			return usage();
		return do_lkdtm(arg, n);
	}
	return usage();
}
