/* Benchmark of the packet core alone (no DPDK): sl_decide_burst over
 * 60-byte TCP segments of FLOWS distinct flows to one service, in bursts of
 * 32, the way a worker calls it: once over new flows (every packet
 * inserts), then for SECONDS over the flows now live.  Prints Mpps and ns
 * and cycles per packet of each, so core changes can be compared in one
 * run without the PMDs' noise.
 *
 * Usage: sluice-bench-core [SECONDS] [FLOWS...]   (default 2 s; 1000 65536 1000000)
 *
 * BENCH_SNAP_ROUNDS=N: then N rounds of SECONDS without and SECONDS with
 * the worker's per-burst snapshot check (sl_snap_poll, nothing asked),
 * alternated; prints the medians and their ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "decide.h"
#include "snap.h"
#include "tables.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Flow i: 10.x.y.z:sport -> 192.0.2.10:443, ACK, 60 bytes. */
static void frame(uint8_t *f, uint32_t i)
{
	memset(f, 0, 64);
	f[0] = 2;
	f[5] = 2;
	f[6] = 2;
	f[11] = 1;
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	put16(f + 16, 40);
	f[22] = 64;
	f[23] = 6;
	f[26] = 10;
	f[27] = (uint8_t)(i >> 16);
	f[28] = (uint8_t)(i >> 8);
	f[29] = (uint8_t)i;
	f[30] = 192;
	f[32] = 2;
	f[33] = 10;
	put16(f + 34, (uint16_t)(1024 + (i >> 24)));
	put16(f + 36, 443);
	f[46] = 0x50;
	f[47] = 0x10;
}

static struct sl_config *bench_config(uint32_t flows)
{
	struct sl_config *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	strcpy(c->path, "bench");
	c->hash_seed = 0x5eed;
	c->flow_capacity = flows + flows / 8 + 64;
	c->maglev_size = 65537;
	c->tcp_syn_timeout_ms = c->tcp_timeout_ms = c->tcp_fin_timeout_ms = 900000;
	c->tcp_closed_timeout_ms = c->udp_timeout_ms = 900000;
	c->nports = 3;
	c->ports[0].role = SL_ROLE_CLIENT;
	c->ports[1].role = SL_ROLE_BACKEND;
	c->ports[2].role = SL_ROLE_BACKEND;
	c->ngroups = 2;
	strcpy(c->groups[0].name, "blue");
	c->groups[0].port = 1;
	strcpy(c->groups[1].name, "green");
	c->groups[1].port = 2;
	c->nservices = 1;
	strcpy(c->services[0].name, "web");
	c->services[0].proto = 6;
	c->services[0].family = 4;
	c->services[0].vip[0] = 192;
	c->services[0].vip[2] = 2;
	c->services[0].vip[3] = 10;
	c->services[0].nranges = 1;
	c->services[0].ranges[0].lo = c->services[0].ranges[0].hi = 443;
	c->services[0].champion = 0;
	c->services[0].challenger = 1;
	c->services[0].share_bp = 500;
	return c;
}

/* Packets per second over the live flows for secs, bursts as the worker
 * makes them, with the snapshot check after each burst if snap. */
static double live(struct sl_worker *w, const struct sl_table_src *src, const uint8_t *pkts,
		   uint32_t flows, double secs, struct sl_snap *snap, uint32_t *next)
{
	const uint8_t *data[SL_BURST];
	uint16_t len[SL_BURST];
	struct sl_verdict out[SL_BURST];
	uint64_t n = 0;
	double t0 = now_s(), t1;

	for (int i = 0; i < SL_BURST; i++)
		len[i] = 60;
	do {
		for (int k = 0; k < 256; k++) {
			const struct sl_view *v = sl_src_view(src);

			for (int j = 0; j < SL_BURST; j++) {
				data[j] = pkts + (size_t)*next * 64;
				if (++*next == flows)
					*next = 0;
			}
			sl_decide_burst(w, v, 0, data, len, SL_BURST, 2000, out);
			sl_worker_sweep(w, 2000);
			if (snap)
				sl_snap_poll(snap, w->ft, v, 2000);
			n += SL_BURST;
		}
		t1 = now_s();
	} while (t1 - t0 < secs);
	return (double)n / (t1 - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void snap_rounds(struct sl_worker *w, const struct sl_table_src *src,
			const uint8_t *pkts, uint32_t flows, double secs, int rounds)
{
	static struct sl_snap snap; /* nothing asked: req == done */
	double off[64], on[64];
	uint32_t next = 0;

	if (rounds > 64)
		rounds = 64;
	for (int r = 0; r < rounds; r++) {
		off[r] = live(w, src, pkts, flows, secs, NULL, &next);
		on[r] = live(w, src, pkts, flows, secs, &snap, &next);
	}
	qsort(off, (size_t)rounds, sizeof(off[0]), cmp_double);
	qsort(on, (size_t)rounds, sizeof(on[0]), cmp_double);
	printf("%9u flows:     snapshot check: %6.2f Mpps with, %6.2f without (medians of %d "
	       "alternated rounds), ratio %.3f\n", flows, on[rounds / 2] / 1e6,
	       off[rounds / 2] / 1e6, rounds, on[rounds / 2] / off[rounds / 2]);
}

static int run(uint32_t flows, double secs)
{
	struct sl_config *c = bench_config(flows);
	struct sl_table_src *src;
	struct sl_worker w;
	uint8_t *pkts;
	const uint8_t *data[SL_BURST];
	uint16_t len[SL_BURST];
	struct sl_verdict out[SL_BURST];
	char err[256];
	uint64_t n = 0, c0, c1;
	double t0, t1;
	uint32_t next = 0;

	pkts = malloc((size_t)flows * 64);
	if (!c || !pkts)
		return -1;
	src = sl_tables_from_config(c, err, sizeof(err));
	if (!src || sl_worker_init(&w, c, NULL) != 0) {
		fprintf(stderr, "bench-core: setup failed: %s\n", src ? "worker" : err);
		return -1;
	}
	for (uint32_t i = 0; i < flows; i++)
		frame(pkts + (size_t)i * 64, i);
	for (int i = 0; i < SL_BURST; i++)
		len[i] = 60;
	/* one pass where every packet starts a flow (timed: the inserts),
	 * then lookups of live flows */
	t0 = now_s();
	c0 = __rdtsc();
	for (uint32_t i = 0; i < flows; i += SL_BURST) {
		uint16_t b = (uint16_t)(flows - i < SL_BURST ? flows - i : SL_BURST);

		for (uint16_t j = 0; j < b; j++)
			data[j] = pkts + (size_t)(i + j) * 64;
		/* the clock in us: 1 ms, then 2 ms */
		sl_decide_burst(&w, sl_src_view(src), 0, data, len, b, 1000, out);
		sl_worker_sweep(&w, 1000);
	}
	c1 = __rdtsc();
	t1 = now_s();
	printf("%9u new flows: %6.2f Mpps  %6.1f ns/pkt  %6.1f TSC cycles/pkt  (every packet "
	       "starts a flow)\n", flows, (double)flows / (t1 - t0) / 1e6,
	       (t1 - t0) * 1e9 / (double)flows, (double)(c1 - c0) / (double)flows);
	t0 = now_s();
	c0 = __rdtsc();
	do {
		for (int k = 0; k < 256; k++) {
			for (int j = 0; j < SL_BURST; j++) {
				data[j] = pkts + (size_t)next * 64;
				if (++next == flows)
					next = 0;
			}
			sl_decide_burst(&w, sl_src_view(src), 0, data, len, SL_BURST, 2000, out);
			sl_worker_sweep(&w, 2000);
			n += SL_BURST;
		}
		t1 = now_s();
	} while (t1 - t0 < secs);
	c1 = __rdtsc();
	printf("%9u flows:     %6.2f Mpps  %6.1f ns/pkt  %6.1f TSC cycles/pkt  (flows tracked %u, "
	       "full fallback %llu)\n", flows, (double)n / (t1 - t0) / 1e6,
	       (t1 - t0) * 1e9 / (double)n, (double)(c1 - c0) / (double)n, sl_ft_count(w.ft),
	       (unsigned long long)w.cnt->ft_full);
	if (getenv("BENCH_SNAP_ROUNDS") && atoi(getenv("BENCH_SNAP_ROUNDS")) > 0)
		snap_rounds(&w, src, pkts, flows, secs, atoi(getenv("BENCH_SNAP_ROUNDS")));
	sl_worker_fini(&w);
	sl_tables_free(src);
	free(pkts);
	free(c);
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	static const uint32_t def[] = { 1000, 65536, 1000000 };

	if (secs <= 0) {
		fprintf(stderr, "usage: sluice-bench-core [SECONDS] [FLOWS...]\n");
		return 2;
	}
	if (argc > 2) {
		for (int i = 2; i < argc; i++) {
			long f = atol(argv[i]);

			if (f < SL_BURST || f > 16000000) {
				fprintf(stderr, "sluice-bench-core: FLOWS '%s' must be %d..16000000\n",
					argv[i], SL_BURST);
				return 2;
			}
			if (run((uint32_t)f, secs) != 0)
				return 1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(def) / sizeof(def[0]); i++)
		if (run(def[i], secs) != 0)
			return 1;
	return 0;
}
