/* The per-packet decision, shared by sluice-dp, sluice-replay and the tests:
 * parse, classify to a service, find or decide the flow (group by share,
 * member by Maglev), track TCP state, pick output ports, rewrite the
 * destination MAC in mac mode, count.  Plain C over byte buffers. */
#ifndef SLUICE_DECIDE_H
#define SLUICE_DECIDE_H

#include <stdint.h>

#include "config.h"
#include "flowtable.h"
#include "hash.h"
#include "stats.h"
#include "tables.h"

#define SL_BURST 32

/* What to do with one packet. */
struct sl_verdict {
	uint16_t out;      /* output port mask (bit p = port index p; 0 = drop) */
	uint16_t shadow;   /* shadow rules that want a copy (bit r = shadows[r]) */
	uint8_t has_dmac;  /* mac mode: write dmac into the original's destination */
	uint8_t dmac[6];   /*   MAC, after the shadow copies are made */
	uint8_t pad;
};

/* Shadow filter evaluation, provided by the caller: 1 if packet i of the
 * burst being decided passes the filter of rule r of the table whose
 * shadow_gen is ready_gen.  The core stays free of DPDK and libpcap. */
struct sl_shadow_matcher {
	int (*match)(void *ctx, unsigned r, unsigned i);
	void *ctx;
	uint32_t ready_gen;
};

/* Per worker lcore state; never shared. */
struct sl_worker {
	struct sl_flowtable *ft;
	struct sl_counters *cnt;
	uint8_t port_role[SL_MAX_PORTS]; /* enum sl_port_role per port index */
	uint8_t nports;
	uint16_t port_mask;              /* output bits that name a port */
	uint8_t client_port;             /* port index of the client port */
	uint16_t backend_mask;           /* output mask: every backend port */
	uint8_t other;                   /* enum sl_other_action */
	uint8_t malformed;               /* enum sl_malformed_action */
	uint32_t sweep_budget;           /* flow slots examined per burst */
	struct sl_shadow_matcher shadow; /* match NULL: shadow rules stay pending */
	uint8_t own_cnt;                 /* cnt allocated by sl_worker_init */
};

/* Set up a worker from a configuration; the flow table is allocated here
 * (off the packet path), and the counters too unless cnt points at memory
 * the caller provides (an entry of the stats map).  Returns 0 or -1
 * (allocation). */
int sl_worker_init(struct sl_worker *w, const struct sl_config *cfg, struct sl_counters *cnt);
void sl_worker_fini(struct sl_worker *w);

/* Decide a burst of n (<= SL_BURST) frames received on port in_port; the
 * frames are not modified (the caller makes the shadow copies, then applies
 * the MAC rewrite: sl_verdict_rewrite).  now_ms is a wrapping millisecond
 * clock. */
void sl_decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
		     const uint8_t *const *data, const uint16_t *len, uint16_t n,
		     uint32_t now_ms, struct sl_verdict *vd);

static inline void sl_verdict_rewrite(uint8_t *frame, const struct sl_verdict *vd)
{
	if (vd->has_dmac)
		__builtin_memcpy(frame, vd->dmac, 6);
}

/* Settle expired flows (call about once per burst). */
void sl_worker_sweep(struct sl_worker *w, uint32_t now_ms);

/* Settle the expired flows of the whole table now (sluice-replay: the
 * active flows at a slice's end are those still alive then). */
void sl_worker_sweep_all(struct sl_worker *w, uint32_t now_ms);

#endif
