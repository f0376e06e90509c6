/* Per-worker counters.  One writer (the worker lcore), plain increments;
 * readers sum across workers.  Also the --stats JSON writer. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "../ebpf/sluice_layout.h"
#include "parse.h"

/* Per service, per group. */
struct sl_grp_counters {
	uint64_t pkts;        /* client -> server packets sent to the group */
	uint64_t bytes;
	uint64_t flows;       /* new flows decided for the group */
	uint64_t active;      /* flows tracked now (inserted - expired) */
	uint64_t ret_pkts;    /* server -> client packets from the group */
	uint64_t ret_bytes;
	uint64_t ret_rst;     /* TCP RSTs from the group's backends */
	uint64_t ret_synack;  /* SYN-ACKs from the group's backends */
} __attribute__((aligned(64)));

struct sl_counters {
	uint64_t port_rx[SL_MAX_PORTS];
	uint64_t port_tx[SL_MAX_PORTS];
	uint64_t port_drop[SL_MAX_PORTS];  /* TX queue full: dropped, counted */
	uint64_t malformed[SL_BAD__COUNT]; /* by reason ([SL_OK] unused) */
	uint64_t malformed_fwd;            /* malformed, forwarded by the rule */
	uint64_t malformed_drop;           /* malformed, dropped by the rule */
	uint64_t other_fwd;                /* matched no service, forwarded */
	uint64_t other_drop;               /* matched no service, dropped by rule */
	uint64_t shadow_rx_drop;           /* received on a shadow port */
	uint64_t ft_full;                  /* new flow not tracked: stateless decision */
	uint64_t redecided;                /* flows decided again (port reuse after
	                                      close, --reset, expired) */
	uint64_t expired;                  /* entries removed by the sweep */
	uint64_t ret_untracked;            /* return packets of no tracked flow */
	uint64_t svc_pkts[SL_MAX_SERVICES];/* client -> server packets per service */
	struct sl_grp_counters grp[SL_MAX_SERVICES][SL_MAX_GROUPS];
};

/* acc += c, field by field. */
void sl_counters_add(struct sl_counters *acc, const struct sl_counters *c);

#endif
