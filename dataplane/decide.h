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

/* Filter evaluation, provided by the caller: 1 if packet i of the burst
 * being decided passes program r of the table whose shadow_gen is
 * ready_gen: shadow rule r (r < SL_MAX_SHADOWS), or the filter of slice
 * slot s for r = SL_FILTER_SLICE(s).  The core stays free of DPDK and
 * libpcap. */
struct sl_shadow_matcher {
	int (*match)(void *ctx, unsigned r, unsigned i);
	void *ctx;
	uint32_t ready_gen;
};

/* What the evidence counters need of the table in use, derived once per
 * table: sl_decide_burst rebuilds it when the header or its generation
 * changes (a published header never changes under one generation).  The
 * sweep settles flows against the last one built. */
struct sl_ev_map {
	const struct sl_table_hdr *hdr; /* built from this header ... */
	uint32_t gen;                   /* ... at this generation */
	uint8_t champion[SL_MAX_SERVICES];   /* group of each role; */
	uint8_t challenger[SL_MAX_SERVICES]; /* 0xff: no service */
	uint8_t bits[SL_MAX_SERVICES];       /* slice bits the service has */
	uint8_t slot[SL_MAX_SERVICES][SL_SLICES_PER_SERVICE]; /* slot of each bit */
	uint32_t live_groups;                /* bit g: group g is in place */
	uint32_t mac_groups;                 /* bit g: group g in mac mode, with members */
	uint16_t gout[SL_MAX_GROUPS];        /* output mask of group g's port */
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
	struct sl_shadow_matcher shadow; /* match NULL: shadow rules stay pending,
					    slice filters do not match */
	uint8_t own_cnt;                 /* cnt allocated by sl_worker_init */
	uint32_t hs_timeout_us;          /* handshake_timeout (0 in the config: 3 s) */
	struct sl_ev_map ev;
};

/* Set up a worker from a configuration; the flow table is allocated here
 * (off the packet path), and the counters too unless cnt points at memory
 * the caller provides (an entry of the stats map).  Returns 0 or -1
 * (allocation). */
int sl_worker_init(struct sl_worker *w, const struct sl_config *cfg, struct sl_counters *cnt);
void sl_worker_fini(struct sl_worker *w);

/* Decide a burst of n (<= SL_BURST) frames received on port in_port; the
 * frames are not modified (the caller makes the shadow copies, then applies
 * the MAC rewrite: sl_verdict_rewrite).  now_us is a microsecond clock
 * that never goes back: latencies are taken from it (32 bits, wrapping)
 * and idle timeouts from now_us / 1000 (milliseconds, 32 bits, wrapping).
 * Returns 0 if no verdict of the burst has shadow copies or a MAC to
 * write (the caller may then read only their out), nonzero if some may. */
int sl_decide_burst(struct sl_worker *w, const struct sl_view *v, uint8_t in_port,
		     const uint8_t *const *data, const uint16_t *len, uint16_t n,
		     uint64_t now_us, struct sl_verdict *vd);

/* The millisecond clock of the flow table (idle timeouts) from the
 * microsecond clock: a division by a constant (a multiply). */
static inline uint32_t sl_clock_ms(uint64_t now_us)
{
	return (uint32_t)(now_us / 1000u);
}

static inline void sl_verdict_rewrite(uint8_t *frame, const struct sl_verdict *vd)
{
	if (vd->has_dmac)
		__builtin_memcpy(frame, vd->dmac, 6);
}

/* How a new flow of service si would be decided under view v (digest:
 * the flow digest of its key, seed_flow): u, its place on the share scale
 * (challenger if u < share_bp), the group, and the member (mac mode with
 * members; else -1).  The packet path's own code, for "where would this
 * connection go" questions (sluice-dp's telemetry). */
struct sl_decision {
	uint32_t u;
	uint8_t group;
	int member;
};
void sl_decide_new_flow(const struct sl_view *v, int si, uint64_t digest,
			struct sl_decision *out);

/* The member of flow f (digest: of its key) in its group, -1 in port mode. */
int sl_flow_member(const struct sl_view *v, const struct sl_flow *f, uint64_t digest);

/* Settle expired flows (call about once per burst); now_us as for
 * sl_decide_burst.  A flow still awaiting its SYN-ACK counts as a failed
 * handshake. */
void sl_worker_sweep(struct sl_worker *w, uint64_t now_us);

/* Settle the expired flows of the whole table now (sluice-replay: the
 * active flows at a slice's end are those still alive then). */
void sl_worker_sweep_all(struct sl_worker *w, uint64_t now_us);

#endif
