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

/* Per worker lcore state; never shared. */
struct sl_worker {
	struct sl_flowtable *ft;
	struct sl_counters *cnt;
	uint8_t port_role[SL_MAX_PORTS]; /* enum sl_port_role per port index */
	uint8_t nports;
	uint8_t client_port;             /* port index of the client port */
	uint16_t backend_mask;           /* output mask: every backend port */
	uint8_t other;                   /* enum sl_other_action */
	uint8_t malformed;               /* enum sl_malformed_action */
	uint32_t sweep_budget;           /* flow slots examined per burst */
	uint8_t own_cnt;                 /* cnt allocated by sl_worker_init */
};

/* Set up a worker from a configuration; the flow table is allocated here
 * (off the packet path), and the counters too unless cnt points at memory
 * the caller provides (an entry of the stats map).  Returns 0 or -1
 * (allocation). */
int sl_worker_init(struct sl_worker *w, const struct sl_config *cfg, struct sl_counters *cnt);
void sl_worker_fini(struct sl_worker *w);

/* Decide a burst of n (<= SL_BURST) frames received on port in_port.
 * data[i] is writable (mac mode rewrites the destination MAC in place).
 * out[i] receives the output port mask (bit p = send on port index p;
 * 0 = drop).  now_ms is a wrapping millisecond clock. */
void sl_decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
		     uint8_t *const *data, const uint16_t *len, uint16_t n, uint32_t now_ms,
		     uint16_t *out);

/* Settle expired flows (call about once per burst). */
void sl_worker_sweep(struct sl_worker *w, uint32_t now_ms);

#endif
