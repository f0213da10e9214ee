// SPDX-License-Identifier: GPL-2.0
/*
 * ezone-workload: a small benchmark for the performance side of the
 * isolation/performance continuum (issue 8).  The same static binary runs in
 * the guest (through the agent:  <id> runout ezone-workload [options]) and
 * natively on the host, so a VMM's overhead is the ratio of the two.
 *
 *   int      integer compute: four independent xorshift64 lanes, folded by a
 *            multiply-add
 *   fp       floating point: two dependent double multiply-add chains
 *   mem      memory bandwidth: memcpy between two buffers (default 2 x 16 MiB)
 *   syscall  system calls: syscall(SYS_getppid) (never cached by libc)
 *
 * Each test runs in chunks until -t ms have passed (default 300), after one
 * untimed warm-up chunk, so a run takes about the same time natively and
 * under TCG: the figures are rates, not times.  Relative figures for
 * comparing VMMs, not HPC-grade benchmarks.
 *
 * Options: -t MS (per test, 20..10000), -m MIB (size of each memcpy buffer,
 * 1..256), -T TESTS (comma list of int,fp,mem,syscall; default all).
 *
 * Output: one line on stdout, key=value pairs, rates per second (wall clock
 * CLOCK_MONOTONIC of the machine it runs on):
 *
 *   ezone-workload v=1 int_mops=.. fp_mflops=.. mem_mib_s=.. syscall_ns=.. \
 *       buf_mib=16 test_ms=300 wall_ms=..
 *
 * int_mops: million xorshift steps per second (6 operations each, plus the
 * fold); fp_mflops: million double
 * floating-point operations per second (2 per multiply-add); mem_mib_s: MiB
 * copied per second (each byte read once and written once); syscall_ns:
 * nanoseconds per getppid round trip.  Exit status 0, or 1 with a message on
 * stderr (bad usage, no memory).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB		(1024UL * 1024UL)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Results land here, so the compiler keeps every loop. */
static volatile uint64_t sink_u;
static volatile double sink_d;

/* One chunk of each test; returns the units of work it did. */
#define INT_CHUNK	(1u << 16)
#define XORSHIFT(x)	((x) ^= (x) >> 12, (x) ^= (x) << 25, (x) ^= (x) >> 27)
static double int_chunk(void)
{
	/* Four independent lanes in registers: a native core overlaps them, so
	 * the figure is integer throughput, not the latency of one chain (which
	 * would hide an emulator's extra instructions). Scalar: the build
	 * turns the vectorizer off. */
	static uint64_t seed = 0x9e3779b97f4a7c15ull;
	uint64_t a = seed, b = seed * 3, c = seed * 5, d = seed * 7;
	uint64_t acc = 0;
	unsigned int i;

	for (i = 0; i < INT_CHUNK; i++) {
		XORSHIFT(a);
		XORSHIFT(b);
		XORSHIFT(c);
		XORSHIFT(d);
		acc = acc * 0x2545f4914f6cdd1dull + (a ^ b) + (c ^ d) + i;
	}
	seed = a ^ d;
	sink_u = acc;
	return (double)INT_CHUNK * 4;
}

#define FP_CHUNK	(1u << 17)
static double fp_chunk(void)
{
	static double x = 0.5, y = 0.25;
	unsigned int i;

	/* Contractions to fma are off (-ffp-contract=off): 4 flops a step. */
	for (i = 0; i < FP_CHUNK; i++) {
		x = x * 0.999999 + 0.000001;
		y = y * 0.999997 + x * 0.000003;
	}
	sink_d = x + y;
	return 4.0 * FP_CHUNK;
}

static unsigned char *mem_a, *mem_b;
static size_t mem_size;
static double mem_chunk(void)
{
	static int flip;

	/* Alternate the direction, so neither buffer stays only a source. */
	if (flip ^= 1)
		memcpy(mem_b, mem_a, mem_size);
	else
		memcpy(mem_a, mem_b, mem_size);
	sink_u = mem_a[mem_size / 2] + mem_b[mem_size / 3];
	return (double)mem_size;
}

#define SYSCALL_CHUNK	2000u
static double syscall_chunk(void)
{
	unsigned int i;
	long r = 0;

	for (i = 0; i < SYSCALL_CHUNK; i++)
		r += syscall(SYS_getppid);
	sink_u = (uint64_t)r;
	return SYSCALL_CHUNK;
}

/* Runs chunks until test_ns passed; returns units per second. */
static double measure(double (*chunk)(void), uint64_t test_ns)
{
	uint64_t start, elapsed;
	double units = 0;

	chunk();	/* warm-up: page faults, caches, TCG translation */
	start = now_ns();
	do {
		units += chunk();
		elapsed = now_ns() - start;
	} while (elapsed < test_ns);
	return units * 1e9 / (double)elapsed;
}

static void usage(void)
{
	fprintf(stderr, "usage: ezone-workload [-t ms] [-m MiB] [-T int,fp,mem,syscall]\n");
	exit(1);
}

static long number(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		usage();
	return v;
}

static int wanted(const char *tests, const char *name)
{
	size_t n = strlen(name);
	const char *p = tests;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == tests || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long test_ms = 300, buf_mib = 16;
	const char *tests = "int,fp,mem,syscall";
	uint64_t test_ns, start = now_ns();
	char line[512];
	int opt, n;

	while ((opt = getopt(argc, argv, "t:m:T:")) != -1) {
		switch (opt) {
		case 't':
			test_ms = number(optarg, 20, 10000);
			break;
		case 'm':
			buf_mib = number(optarg, 1, 256);
			break;
		case 'T':
			tests = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	test_ns = (uint64_t)test_ms * 1000000u;

	n = snprintf(line, sizeof(line), "ezone-workload v=1");
	if (wanted(tests, "int"))
		n += snprintf(line + n, sizeof(line) - n, " int_mops=%.1f",
			      measure(int_chunk, test_ns) / 1e6);
	if (wanted(tests, "fp"))
		n += snprintf(line + n, sizeof(line) - n, " fp_mflops=%.1f",
			      measure(fp_chunk, test_ns) / 1e6);
	if (wanted(tests, "mem")) {
		mem_size = (size_t)buf_mib * MIB;
		mem_a = malloc(mem_size);
		mem_b = malloc(mem_size);
		if (!mem_a || !mem_b) {
			fprintf(stderr, "ezone-workload: cannot allocate 2 x %ld MiB\n", buf_mib);
			return 1;
		}
		memset(mem_a, 0x5a, mem_size);	/* touch every page first */
		memset(mem_b, 0xa5, mem_size);
		n += snprintf(line + n, sizeof(line) - n, " mem_mib_s=%.0f",
			      measure(mem_chunk, test_ns) / (double)MIB);
		free(mem_a);
		free(mem_b);
	}
	if (wanted(tests, "syscall"))
		n += snprintf(line + n, sizeof(line) - n, " syscall_ns=%.1f",
			      1e9 / measure(syscall_chunk, test_ns));
	snprintf(line + n, sizeof(line) - n, " buf_mib=%ld test_ms=%ld wall_ms=%.0f",
		 buf_mib, test_ms, (double)(now_ns() - start) / 1e6);
	puts(line);
	return fflush(stdout) == 0 ? 0 : 1;
}
