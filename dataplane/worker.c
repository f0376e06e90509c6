/* The sluice-dp worker loop.  Per packet: no locks, no syscalls, no
 * allocation, no division. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "worker.h"

/* How long a stopping worker keeps retrying its TX buffers. */
#define SL_DRAIN_MS 100
/* A single-lcore worker checks the stop conditions this often (iterations). */
#define SL_SOLO_CHECK_MASK 1023u
#define SL_SWEEP_EVERY 4u /* passes of the loop per sweep (a power of 2) */
#define SL_SWEEP_SLOTS 16u /* slots per sweep: 4 a pass, half of one sweep of 8 per burst */

void sl_dp_run_init(struct sl_dp_run *run, double duration_s, uint32_t idle_ms)
{
	/* run->stop starts zeroed (static): a signal received during the
	 * start-up is kept, and the workers stop at once */
	run->tsc_hz = rte_get_tsc_hz();
	run->us_mult = (uint64_t)(((sl_u128)1000000 << 64) / run->tsc_hz);
	run->start_tsc = rte_rdtsc();
	if (__atomic_load_n(&run->stop, __ATOMIC_ACQUIRE) != SL_DP_RUNNING)
		run->stop_tsc = run->start_tsc;
	run->duration_tsc = duration_s > 0 ? (uint64_t)(duration_s * (double)run->tsc_hz) : 0;
	if (duration_s > 0 && run->duration_tsc == 0)
		run->duration_tsc = 1;
	run->idle_tsc = idle_ms ? (uint64_t)idle_ms * run->tsc_hz / 1000 : 0;
	run->idle_rx = 0;
	run->idle_since = run->start_tsc;
}

/* Microseconds since the start: a multiply and a shift. */
static inline uint64_t now_us(const struct sl_dp_run *run, uint64_t tsc)
{
	return (uint64_t)(((sl_u128)(tsc - run->start_tsc) * run->us_mult) >> 64);
}

static inline int stopping(const struct sl_dp_run *run)
{
	return __atomic_load_n(&run->stop, __ATOMIC_RELAXED) != SL_DP_RUNNING;
}

void sl_dp_run_stop(struct sl_dp_run *run, enum sl_dp_stop why, int signo)
{
	int expected = SL_DP_RUNNING;

	if (__atomic_compare_exchange_n(&run->stop, &expected, (int)why, 0, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST)) {
		run->signo = signo;
		run->stop_tsc = rte_rdtsc();
	}
}

uint64_t sl_dp_run_rx(const struct sl_dp_run *run)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < run->nworkers; i++) {
		const struct sl_dp_worker *w = run->workers[i];

		for (unsigned p = 0; p < w->core.nports; p++)
			sum += *(const volatile uint64_t *)&w->core.cnt->port_rx[p];
	}
	return sum;
}

int sl_dp_run_check(struct sl_dp_run *run)
{
	uint64_t now;

	if (stopping(run))
		return 1;
	now = rte_rdtsc();
	if (run->duration_tsc && now - run->start_tsc >= run->duration_tsc) {
		sl_dp_run_stop(run, SL_DP_STOP_DURATION, 0);
		return 1;
	}
	if (run->idle_tsc) {
		uint64_t rx = sl_dp_run_rx(run);

		if (rx != run->idle_rx) {
			run->idle_rx = rx;
			run->idle_since = now;
		} else if (now - run->idle_since >= run->idle_tsc) {
			sl_dp_run_stop(run, SL_DP_STOP_IDLE, 0);
			return 1;
		}
	}
	return 0;
}

void sl_dp_run_reason(const struct sl_dp_run *run, char *buf, unsigned len)
{
	switch (run->stop) {
	case SL_DP_STOP_SIGNAL:
		snprintf(buf, len, "signal %s", run->signo == SIGINT ? "SIGINT" :
			 run->signo == SIGTERM ? "SIGTERM" : "?");
		break;
	case SL_DP_STOP_DURATION:
		snprintf(buf, len, "duration %.3f s elapsed",
			 (double)run->duration_tsc / (double)run->tsc_hz);
		break;
	case SL_DP_STOP_IDLE:
		snprintf(buf, len, "no packet received for %.0f ms",
			 (double)run->idle_tsc * 1000.0 / (double)run->tsc_hz);
		break;
	default:
		snprintf(buf, len, "running");
		break;
	}
}

/* Room at the end of a TX or shadow buffer (rule: its rule bytes, or
 * NULL): what was sent from the front makes it.  0: the buffer is full. */
static inline int buf_room(uint16_t *lo, uint16_t *hi, struct rte_mbuf **m, uint8_t *rule)
{
	if (likely(*hi < SL_TXBUF_CAP))
		return 1;
	if (*lo == 0)
		return 0;
	memmove(&m[0], &m[*lo], (size_t)(*hi - *lo) * sizeof(m[0]));
	if (rule)
		memmove(&rule[0], &rule[*lo], (size_t)(*hi - *lo));
	*hi -= *lo;
	*lo = 0;
	return 1;
}

static inline void tx_enqueue(struct sl_dp_worker *w, unsigned p, struct rte_mbuf *m)
{
	struct sl_dp_txbuf *b = &w->tx[p];

	if (unlikely(!buf_room(&b->lo, &b->hi, b->m, NULL))) {
		rte_pktmbuf_free(m);
		w->core.cnt->port_drop[p]++;
		return;
	}
	b->m[b->hi++] = m;
}

/* Hand m[*lo..*hi) to port p; what it does not take stays, in order.
 * Returns the frames still waiting. */
static inline unsigned flush_buf(struct sl_dp_worker *w, unsigned p, uint16_t *lo, uint16_t *hi,
				 struct rte_mbuf **m)
{
	uint16_t n = *hi - *lo, sent;

	if (n == 0)
		return 0;
	sent = w->tx_fn ? w->tx_fn(w->tx_ctx, p, &m[*lo], n)
			: rte_eth_tx_burst(w->port_id[p], w->queue, &m[*lo], n);
	w->core.cnt->port_tx[p] += sent;
	*lo += sent;
	if (*lo == *hi)
		*lo = *hi = 0;
	return n - sent;
}

static inline unsigned tx_flush(struct sl_dp_worker *w, unsigned p)
{
	return flush_buf(w, p, &w->tx[p].lo, &w->tx[p].hi, w->tx[p].m);
}

static inline void dispatch(struct sl_dp_worker *w, struct rte_mbuf *m, uint16_t mask)
{
	mask &= w->core.port_mask;
	if (mask == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if ((mask & (mask - 1)) == 0) {
		tx_enqueue(w, (unsigned)__builtin_ctz(mask), m);
		return;
	}
	/* Every segment's count: freeing a chain frees its later segments
	 * whatever the head's count is. */
	rte_pktmbuf_refcnt_update(m, (int16_t)(__builtin_popcount(mask) - 1));
	while (mask) {
		tx_enqueue(w, (unsigned)__builtin_ctz(mask), m);
		mask &= mask - 1;
	}
}

/* Take the filter set the main lcore handed over, between bursts. */
static inline void shadow_adopt(struct sl_dp_worker *w)
{
	struct sl_filter_set *s = __atomic_load_n(&w->shadow_next, __ATOMIC_ACQUIRE);

	if (likely(s == w->shadow_burst.set))
		return;
	w->shadow_burst.set = s;
	w->core.shadow.match = s ? sl_filter_match : NULL;
	w->core.shadow.ctx = &w->shadow_burst;
	w->core.shadow.ready_gen = s ? s->shadow_gen : 0;
	__atomic_store_n(&w->shadow_used, s, __ATOMIC_RELEASE);
}

static inline void shadow_drop(struct sl_dp_worker *w, unsigned r, struct rte_mbuf *c)
{
	if (c)
		rte_pktmbuf_free(c);
	w->core.cnt->shadow[r].drops++;
}

static inline void shadow_enqueue(struct sl_dp_worker *w, unsigned p, unsigned r,
				  struct rte_mbuf *c)
{
	struct sl_dp_shadowbuf *b = &w->shadow_tx[p];

	if (unlikely(!buf_room(&b->lo, &b->hi, b->m, b->rule))) {
		/* the shadow port is behind: this copy goes, nothing waits */
		w->core.cnt->port_drop[p]++;
		shadow_drop(w, r, c);
		return;
	}
	b->rule[b->hi] = (uint8_t)r;
	b->m[b->hi++] = c;
}

/* One copy of m per rule of vd->shadow, made before the original's MAC
 * rewrite.  A clone shares the original's bytes, so only where neither is
 * rewritten; a copy is a new mbuf from the shadow pool. */
static inline void shadow_copies(struct sl_dp_worker *w, const struct sl_view *v,
				 struct rte_mbuf *m, const struct sl_verdict *vd)
{
	uint16_t mask = vd->shadow;

	while (mask) {
		unsigned r = (unsigned)__builtin_ctz(mask);
		const struct sl_shadow_rec *sr = &v->hdr->shadows[r];
		unsigned p = sr->port;
		struct rte_mbuf *c;

		mask &= (uint16_t)(mask - 1);
		if (unlikely(p >= w->core.nports)) {
			shadow_drop(w, r, NULL);
			continue;
		}
		if (!sr->has_mac && !vd->has_dmac && w->clone_pool[p]) {
			c = rte_pktmbuf_clone(m, w->clone_pool[p]);
		} else {
			c = rte_pktmbuf_copy(m, w->copy_pool[p] ? w->copy_pool[p] : m->pool, 0,
					     UINT32_MAX);
			if (c && sr->has_mac)
				memcpy(rte_pktmbuf_mtod(c, uint8_t *), sr->mac, 6);
		}
		if (unlikely(!c)) {
			shadow_drop(w, r, NULL);
			continue;
		}
		shadow_enqueue(w, p, r, c);
	}
}

/* Copies the port does not take stay for the next flush (in order); new
 * ones are dropped while the buffer is full. */
static inline unsigned shadow_flush(struct sl_dp_worker *w, unsigned p)
{
	struct sl_dp_shadowbuf *b = &w->shadow_tx[p];

	return flush_buf(w, p, &b->lo, &b->hi, b->m);
}

/* The decided burst to the ports' TX buffers; extra (a constant in each
 * copy): some verdict may have shadow copies or a MAC to write. */
static inline __attribute__((always_inline)) void
send_burst(struct sl_dp_worker *w, const struct sl_view *v, struct rte_mbuf **pkts,
	   uint8_t **data, struct sl_verdict *vd, unsigned n, const int extra)
{
	const uint16_t pmask = w->core.port_mask;
	struct sl_dp_txbuf *tb = NULL;
	uint16_t hi = 0;
	/* run: the one-port mask of tb's run, or a mask no frame has */
	uint32_t run = 1u << 16;

	for (unsigned i = 0; i < n; i++) {
		uint16_t mask = vd[i].out & pmask;

		if (extra) {
			/* its copies go to shadow_tx: the run below goes on */
			if (unlikely(vd[i].shadow))
				shadow_copies(w, v, pkts[i], &vd[i]);
			sl_verdict_rewrite(data[i], &vd[i]);
		}
		/* a run of frames to one port: its buffer's end kept here (read
		 * back from memory after each store, it made a chain through
		 * the burst) */
		if (likely(mask == run) && likely(hi < SL_TXBUF_CAP)) {
			tb->m[hi++] = pkts[i];
			continue;
		}
		if (tb)
			tb->hi = hi;
		if (likely(mask && !(mask & (mask - 1)))) {
			tx_enqueue(w, (unsigned)__builtin_ctz(mask), pkts[i]);
			tb = &w->tx[__builtin_ctz(mask)];
			hi = tb->hi;
			run = mask;
			continue;
		}
		tb = NULL;
		run = 1u << 16;
		dispatch(w, pkts[i], vd[i].out);
	}
	if (tb)
		tb->hi = hi;
}

void sl_dp_forward(struct sl_dp_worker *w, const struct sl_view *v, unsigned p,
		   struct rte_mbuf **pkts, uint16_t n, uint64_t now)
{
	struct sl_counters *cnt = w->core.cnt;
	/* the worker's (a local array would be zeroed every burst: gcc cannot
	 * see that the loop below fills the first n) */
	uint8_t **data = w->fwd_data;
	uint16_t *len = w->fwd_len;
	struct sl_verdict vd[SL_BURST];

	if (unlikely(n == 0 || n > SL_BURST))
		return;
	/* Shadow-port input is dropped and counted by sl_decide_burst (verdict
	 * out 0), like everything else it rules on. */
	cnt->port_rx[p] += n;
	for (unsigned i = 0; i < n; i++) {
		data[i] = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		len[i] = rte_pktmbuf_data_len(pkts[i]);
		rte_prefetch0(data[i]);
	}
	shadow_adopt(w);
	w->shadow_burst.pkts = pkts;
	if (unlikely(sl_decide_burst(&w->core, v, (uint8_t)p, (const uint8_t *const *)data, len,
				     n, now, vd)))
		send_burst(w, v, pkts, data, vd, n, 1);
	else
		send_burst(w, v, pkts, data, vd, n, 0);
}

void sl_dp_flush(struct sl_dp_worker *w)
{
	for (unsigned p = 0; p < w->core.nports; p++) {
		tx_flush(w, p);
		shadow_flush(w, p);
	}
}

/* Stop: send what is buffered, bounded in time; the rest counts as drops. */
void sl_dp_drain(struct sl_dp_worker *w)
{
	uint64_t end = rte_rdtsc() + w->run->tsc_hz * SL_DRAIN_MS / 1000;
	unsigned left;

	do {
		left = 0;
		for (unsigned p = 0; p < w->core.nports; p++)
			left += tx_flush(w, p) + shadow_flush(w, p);
	} while (left && rte_rdtsc() < end);
	for (unsigned p = 0; p < w->core.nports; p++) {
		struct sl_dp_txbuf *b = &w->tx[p];
		struct sl_dp_shadowbuf *sb = &w->shadow_tx[p];

		for (unsigned i = b->lo; i < b->hi; i++)
			rte_pktmbuf_free(b->m[i]);
		w->core.cnt->port_drop[p] += b->hi - b->lo;
		b->lo = b->hi = 0;
		for (unsigned i = sb->lo; i < sb->hi; i++)
			shadow_drop(w, sb->rule[i], sb->m[i]);
		w->core.cnt->port_drop[p] += sb->hi - sb->lo;
		sb->lo = sb->hi = 0;
	}
}

int sl_dp_worker_main(void *arg)
{
	struct sl_dp_worker *w = arg;
	struct sl_dp_run *run = w->run;
	struct rte_mbuf *pkts[SL_BURST];
	unsigned iter = 0;

	w->core.sweep_budget = SL_SWEEP_SLOTS;
	while (!stopping(run)) {
		uint64_t tsc = rte_rdtsc();
		uint64_t now = now_us(run, tsc);
		const struct sl_view *v = sl_src_view(w->src);

		if (w->src->acks)
			__atomic_store_n(&w->src->acks[w->queue].gen, v->hdr->gen,
					 __ATOMIC_RELEASE);
		/* an idle worker still lets go of an old filter set */
		shadow_adopt(w);

		for (unsigned p = 0; p < w->core.nports; p++) {
			uint16_t n = rte_eth_rx_burst(w->port_id[p], w->queue, pkts, SL_BURST);

			if (n == 0)
				continue;
			if (unlikely(w->first_rx_tsc == 0))
				w->first_rx_tsc = tsc;
			w->last_rx_tsc = tsc;
			sl_dp_forward(w, v, p, pkts, n, now);
		}
		sl_dp_flush(w);
		/* every SL_SWEEP_EVERY passes, SL_SWEEP_SLOTS slots: the table
		 * is passed at half the rate of 8 slots per burst, the call's
		 * fixed cost paid a quarter as often */
		if ((++iter & (SL_SWEEP_EVERY - 1)) == 0)
			sl_worker_sweep(&w->core, now);
		sl_snap_poll(&w->snap, w->core.ft, v, now);
		if (w->solo && (iter & SL_SOLO_CHECK_MASK) == 0)
			sl_dp_run_check(run);
	}
	sl_dp_drain(w);
	return 0;
}
