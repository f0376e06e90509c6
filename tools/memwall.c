/* The memory wall on this machine: nanoseconds per random access to a
 * 128 MB array (far beyond the caches a flow table at 1 M flows cannot fit
 * in either), one access at a time (each load's address is the previous
 * load's value: a pointer chase) and with 8 or 16 independent loads in
 * flight (interleaved chases; a burst of random lines prefetched, then
 * read, like sl_decide_burst does with its flow-table slots).  From them,
 * the bound in Mpps per core for a packet path that misses DRAM once per
 * packet.
 *
 * Usage: sluice-memwall [MB] [SECONDS]     (default 128 MB, 1 s per case)
 * The array is in 2 MB pages if it can be (MAP_HUGETLB, then transparent
 * huge pages, then 4 KB pages: the line says which); "4k" cases rerun the
 * chase on 4 KB pages to show what the TLB adds.  No DPDK, one thread: pin
 * it (taskset -c 1). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LINE 64u
#define HUGE_PAGE (2u << 20)
#define MAX_WAYS 16u
#define BURST 32u

/* One cache line: the index of the next line of the chase. */
struct line {
	uint64_t next;
	uint64_t pad[LINE / 8 - 1];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: the permutation's shuffle only */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

enum pages { PAGES_HUGETLB, PAGES_THP, PAGES_4K };

static const char *pages_name(enum pages p)
{
	return p == PAGES_HUGETLB ? "2 MB hugetlb pages" :
	       p == PAGES_THP ? "transparent huge pages (madvise; may be partly 4 KB)" :
	       "4 KB pages";
}

static void *map_array(size_t len, int want_huge, enum pages *got)
{
	void *p;

	if (want_huge) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p != MAP_FAILED) {
			*got = PAGES_HUGETLB;
			return p;
		}
	}
	p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* aligned, so that THP can back it from the first byte */
	p = (void *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	if (want_huge && madvise(p, len, MADV_HUGEPAGE) == 0) {
		*got = PAGES_THP;
	} else {
		madvise(p, len, MADV_NOHUGEPAGE);
		*got = PAGES_4K;
	}
	return p;
}

/* One random cycle through all n lines (Sattolo's shuffle): a chase visits
 * every line before it repeats, so the hardware prefetchers cannot help. */
static void make_cycle(struct line *a, uint64_t n)
{
	uint64_t *perm = malloc(n * sizeof(*perm));

	if (!perm) {
		fprintf(stderr, "memwall: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = rng() % i, t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (uint64_t i = 0; i < n; i++)
		a[perm[i]].next = perm[(i + 1) % n];
	free(perm);
}

static volatile uint64_t sink;

/* ways interleaved chases, each dependent on itself only: up to ways
 * misses in flight.  Returns ns per access. */
static double chase(const struct line *a, uint64_t n, unsigned ways, double secs)
{
	uint64_t p[MAX_WAYS], steps = 0;
	double t0, t;

	for (unsigned k = 0; k < ways; k++)
		p[k] = (n / ways) * k;
	t0 = now_s();
	do {
		for (unsigned i = 0; i < 4096; i++)
			for (unsigned k = 0; k < ways; k++)
				p[k] = a[p[k]].next;
		steps += 4096;
		t = now_s();
	} while (t - t0 < secs);
	for (unsigned k = 0; k < ways; k++)
		sink += p[k];
	return (t - t0) * 1e9 / ((double)steps * ways);
}

/* Bursts of BURST random lines (addresses known in advance, as a burst's
 * hashes are): prefetch them all, then read them all.  ns per access. */
static double burst(const struct line *a, uint64_t n, double secs)
{
	uint64_t x = 0x12345, acc = 0, idx[BURST], bursts = 0;
	double t0, t;

	t0 = now_s();
	do {
		for (unsigned r = 0; r < 1024; r++) {
			for (unsigned i = 0; i < BURST; i++) {
				x = x * 6364136223846793005ull + 1442695040888963407ull;
				idx[i] = (uint64_t)(((x >> 32) * n) >> 32); /* no division */
				__builtin_prefetch(&a[idx[i]], 0, 3);
			}
			for (unsigned i = 0; i < BURST; i++)
				acc += a[idx[i]].next;
		}
		bursts += 1024;
		t = now_s();
	} while (t - t0 < secs);
	sink += acc;
	return (t - t0) * 1e9 / ((double)bursts * BURST);
}

static void run(size_t len, double secs, int want_huge)
{
	enum pages got;
	struct line *a = map_array(len, want_huge, &got);
	uint64_t n = len / LINE;
	double d1, d8, d16, b;

	if (!a) {
		fprintf(stderr, "memwall: cannot map %zu bytes: %s\n", len, strerror(errno));
		exit(1);
	}
	make_cycle(a, n);
	chase(a, n, 1, 0.2); /* warm: page faults, TLB */
	d1 = chase(a, n, 1, secs);
	d8 = chase(a, n, 8, secs);
	d16 = chase(a, n, 16, secs);
	b = burst(a, n, secs);
	printf("%zu MB in %s:\n", len >> 20, pages_name(got));
	printf("  dependent (pointer chase)      %6.1f ns/access  -> %6.1f Mpps at 1 miss/packet\n",
	       d1, 1e3 / d1);
	printf("  8 independent chases           %6.1f ns/access  -> %6.1f Mpps  (%.1f in flight)\n",
	       d8, 1e3 / d8, d1 / d8);
	printf("  16 independent chases          %6.1f ns/access  -> %6.1f Mpps  (%.1f in flight)\n",
	       d16, 1e3 / d16, d1 / d16);
	printf("  bursts of %u, prefetched       %6.1f ns/access  -> %6.1f Mpps  (%.1f in flight)\n",
	       BURST, b, 1e3 / b, d1 / b);
	munmap(a, len);
}

int main(int argc, char **argv)
{
	unsigned long mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 128;
	double secs = argc > 2 ? strtod(argv[2], NULL) : 1.0;

	if (mb < 4 || mb > 65536 || !(secs > 0)) {
		fprintf(stderr, "usage: sluice-memwall [MB (4..65536)] [SECONDS]\n");
		return 2;
	}
	run((size_t)mb << 20, secs, 1);
	run((size_t)mb << 20, secs, 0);
	printf("Mpps = 1000 / ns per access: the most packets per second one core can\n"
	       "handle when each costs one random DRAM access and nothing else.\n");
	return 0;
}
