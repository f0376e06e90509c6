/* The sluice-dp worker lcore: receive a burst on every port, let the core
 * decide, hand the mbufs to per-port TX buffers, flush, sweep.  Also the
 * run-wide stop conditions (signal, --duration, --exit-when-idle). */
#ifndef SLUICE_WORKER_H
#define SLUICE_WORKER_H

#include <stdint.h>

#include "decide.h"
#include "filter.h"
#include "snap.h"
#include "tables.h"

#define SL_TXBUF_CAP (4 * SL_BURST)

struct rte_mbuf;
struct rte_mempool;

/* Frames waiting for one TX queue, in order: m[lo..hi). */
struct sl_dp_txbuf {
	uint16_t lo, hi;
	struct rte_mbuf *m[SL_TXBUF_CAP];
};

/* Shadow copies waiting for a shadow port, with the rule each is for: a
 * full buffer drops the new copy (counted for its rule), never waits. */
struct sl_dp_shadowbuf {
	uint16_t lo, hi;
	uint8_t rule[SL_TXBUF_CAP];
	struct rte_mbuf *m[SL_TXBUF_CAP];
};

enum sl_dp_stop {
	SL_DP_RUNNING = 0,
	SL_DP_STOP_SIGNAL,
	SL_DP_STOP_DURATION,
	SL_DP_STOP_IDLE,
};

struct sl_dp_worker;

/* Shared by every lcore; only stop is written after the start, and only
 * the lcore that checks the conditions writes the idle_* fields. */
struct sl_dp_run {
	int stop;              /* enum sl_dp_stop, set once */
	int signo;             /* signal that stopped the run */
	uint64_t tsc_hz;
	uint64_t us_mult;      /* now_us = (tsc - start_tsc) * us_mult >> 64 */
	uint64_t start_tsc;
	uint64_t stop_tsc;
	uint64_t duration_tsc; /* 0: no --duration */
	uint64_t idle_tsc;     /* 0: no --exit-when-idle */
	uint64_t idle_rx;      /* packets received at idle_since */
	uint64_t idle_since;
	unsigned nworkers;
	struct sl_dp_worker **workers;
};

/* How frames leave on port index p: NULL = rte_eth_tx_burst on the port's
 * queue; sluice-replay writes them to a pcap file.  Returns how many it
 * took (the rest stays buffered). */
typedef uint16_t (*sl_dp_tx_fn)(void *ctx, unsigned p, struct rte_mbuf **m, uint16_t n);

struct sl_dp_worker {
	struct sl_worker core;
	sl_dp_tx_fn tx_fn;
	void *tx_ctx;
	const struct sl_table_src *src;
	struct sl_dp_run *run;
	uint16_t queue;        /* RX and TX queue of every port = worker index */
	uint8_t solo;          /* the only lcore: checks the stop conditions too */
	uint16_t port_id[SL_MAX_PORTS];
	uint64_t first_rx_tsc; /* TSC of the first and last burst received; */
	uint64_t last_rx_tsc;  /* first_rx_tsc == 0: nothing received */
	struct sl_dp_txbuf tx[SL_MAX_PORTS];
	uint8_t *fwd_data[SL_BURST]; /* sl_dp_forward's frames and lengths */
	uint16_t fwd_len[SL_BURST];

	/* Shadow copies.  The filter programs of the table's rule set come
	 * from sl_dp_shadow_update (filter.h), which writes shadow_next; the
	 * worker takes it between bursts and says so in shadow_used.  Copies
	 * come from copy_pool[p] (rte_pktmbuf_copy, NULL: the packet's own
	 * pool), or are clones from clone_pool[p] (indirect mbufs) when
	 * neither the original nor the copy is rewritten (NULL: always
	 * copies); they leave through shadow_tx, apart from the originals. */
	struct sl_filter_set *shadow_next;
	const struct sl_filter_set *shadow_used;
	struct sl_filter_burst shadow_burst;
	struct rte_mempool *copy_pool[SL_MAX_PORTS];
	struct rte_mempool *clone_pool[SL_MAX_PORTS];
	struct sl_dp_shadowbuf shadow_tx[SL_MAX_PORTS];

	struct sl_snap snap;  /* flow-table copies for telemetry (snap.h) */
};

/* Timing and stop conditions; duration_s 0 / idle_ms 0: none.  run starts
 * zeroed; a stop requested before (a signal during start-up) is kept. */
void sl_dp_run_init(struct sl_dp_run *run, double duration_s, uint32_t idle_ms);

/* Ask every worker to stop (signal-safe). */
void sl_dp_run_stop(struct sl_dp_run *run, enum sl_dp_stop why, int signo);

/* Evaluate the stop conditions now; returns non-zero once stopping. */
int sl_dp_run_check(struct sl_dp_run *run);

/* Packets received so far by all workers (racy read of their counters). */
uint64_t sl_dp_run_rx(const struct sl_dp_run *run);

/* "signal SIGINT", "duration 10 s elapsed", ... */
void sl_dp_run_reason(const struct sl_dp_run *run, char *buf, unsigned len);

/* One burst received on port index p: count it, decide it, make the
 * shadow copies, rewrite, and queue every frame for its ports (shared by
 * sluice-dp's loop and sluice-replay).  Takes the filter set handed over
 * by sl_dp_shadow_update first, if there is a new one.  now_us: the
 * microsecond clock of sl_decide_burst. */
void sl_dp_forward(struct sl_dp_worker *w, const struct sl_view *v, unsigned p,
		   struct rte_mbuf **pkts, uint16_t n, uint64_t now_us);

/* Hand every queued frame to its port (what a port does not take stays
 * queued, in order), shadow copies included. */
void sl_dp_flush(struct sl_dp_worker *w);

/* Stop: flush for at most 100 ms, then free and count what is left. */
void sl_dp_drain(struct sl_dp_worker *w);

/* lcore entry point: arg is a struct sl_dp_worker. */
int sl_dp_worker_main(void *arg);

#endif
