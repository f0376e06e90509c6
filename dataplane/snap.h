/* Flow-table snapshots for observers on other threads (sluice-dp's
 * telemetry), served by the table's own worker between bursts.  Plain C,
 * no DPDK: the worker loop, the benchmark and the unit tests use it alike. */
#ifndef SLUICE_SNAP_H
#define SLUICE_SNAP_H

#include <stdint.h>

#include "flowtable.h"
#include "tables.h"

/* The flow table has one writer, so only its worker reads it.
 * A requester fills the parameters and bumps req (release); the worker
 * sees req != done with one load per loop iteration, copies the entries
 * into buf over a few iterations (SL_SNAP_BUDGET slots each, so a large
 * table never stalls a burst), and publishes done = req (release).  A
 * requester that gave up leaves the worker to restart on the next req.
 * One requester at a time (telemetry.c holds a mutex). */
#define SL_SNAP_MAX 128
#define SL_SNAP_BUDGET 2048

struct sl_snap {
	/* requester -> worker: req last */
	uint32_t req;
	uint32_t max;            /* entries wanted, <= SL_SNAP_MAX */
	uint8_t by_key;          /* 1: look up key alone */
	struct sl_ft_snap_filter filter;
	struct sl_key key;
	/* the worker's side on other cache lines than the requester's, without
	 * an alignment the callers' allocations would have to honour */
	uint8_t apart[64];
	/* worker -> requester (done last); the rest is the worker's own */
	uint32_t done;
	uint32_t n;              /* entries in buf */
	uint32_t now_ms;         /* the flow table's clock when copied */
	uint32_t now_s;          /* its seconds (entries' born) */
	uint32_t gen;            /* generation of the table the worker used */
	uint32_t ft_count;       /* live entries of the table then */
	uint32_t serving;        /* req being served */
	struct sl_ft_snap_filter cur_filter;
	uint32_t cur_max;
	uint64_t pos;
	struct sl_flow_rec buf[SL_SNAP_MAX];
};

/* Serve a pending request (one step of it). */
void sl_snap_step(struct sl_snap *s, struct sl_flowtable *ft, const struct sl_view *v,
		  uint64_t now_us);

/* Between bursts: one load when nothing is asked. */
static inline void sl_snap_poll(struct sl_snap *s, struct sl_flowtable *ft,
				const struct sl_view *v, uint64_t now_us)
{
	if (__builtin_expect(__atomic_load_n(&s->req, __ATOMIC_RELAXED) != s->done, 0))
		sl_snap_step(s, ft, v, now_us);
}

#endif
