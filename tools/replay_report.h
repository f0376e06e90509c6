/* sluice-replay's report: the run cut into slices at every change (a
 * schedule action, a rollout step the daemon's timer took), per slice, per
 * service and group the counters the dataplane kept, the configured and
 * the measured share, flows that changed group and connections a --reset
 * broke, shadow rules and their coverage; report.json and the human
 * summary.  No DPDK here: replay.c feeds it counters and table views. */
#ifndef SLUICE_REPLAY_REPORT_H
#define SLUICE_REPLAY_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "config.h"
#include "tables.h"

struct rp_grp {
	uint64_t pkts, bytes, flows, active, ret_pkts, ret_bytes;
};

/* Evidence counts of one role (struct sl_ev_cell without its histograms). */
struct rp_ev {
	uint64_t flows, hs_ok, hs_fail, rst, icmp, ttfb_flows;
};

struct rp_svc_slice {
	uint8_t champion, challenger; /* group indexes in force during the slice */
	uint16_t share_bp;
	uint64_t changed;             /* flows sent to another group than before */
	uint64_t broken;              /* of those, established TCP connections */
	struct rp_grp g[SL_MAX_GROUPS];
	json_t *guards;               /* the guards' figures at the slice's end (NULL: none) */
	struct rp_ev ev[2];           /* [enum sl_ev_role], counted in the slice */
};

struct rp_rule_slice {
	char name[SL_NAME_LEN];
	char filter[SL_FILTER_LEN];
	uint8_t service, port;
	uint16_t sample_bp;
	uint64_t flows, pkts, drops, pending;
	uint64_t service_flows;       /* new flows of its service in the slice */
};

struct rp_slice {
	uint64_t from_ns, to_ns;      /* after the first packet */
	uint64_t first_pkt, packets;  /* first packet number (1-based), packets in it */
	uint32_t gen;                 /* table generation in force */
	unsigned action0, nactions;   /* the actions applied at its start */
	struct rp_svc_slice *svc;     /* [cfg->nservices] */
	unsigned nrules;
	struct rp_rule_slice rule[SL_MAX_SHADOWS];
};

enum rp_status { RP_NOT_REACHED = 0, RP_CHANGED, RP_UNCHANGED, RP_REFUSED };

struct rp_action {
	int by_plan;                  /* 0: a schedule line; RP_BY_PLAN: a rollout
					 step the daemon's timer took; RP_BY_GUARD:
					 a guard's abort or pause */
	unsigned line;                /* schedule line (by_plan 0) */
	uint64_t at_ms;               /* schedule time (by_plan 0) */
	char *command;                /* schedule text, or the step's reason */
	char service[SL_NAME_LEN];    /* the service it changed ("": none named) */
	enum rp_status status;
	uint64_t applied_ns;          /* after the first packet */
	uint64_t packet;              /* the packet it was applied before (1-based) */
	uint32_t gen;                 /* generation in force after it */
	char code[32];                /* refused: the daemon's error code */
	char *message;                /* refused: its message */
};

struct rp_report {
	const struct sl_config *cfg;
	const char *config_path, *input_path, *schedule_path, *outdir;
	int nano;                     /* input timestamps in ns */
	uint64_t first_ns, last_ns;   /* absolute packet times */
	uint64_t packets, bytes, out_of_order;
	unsigned nactions, acap;
	struct rp_action *actions;
	unsigned nslices, scap;
	struct rp_slice *slices;
	struct sl_counters *prev;     /* counters at the start of the open slice */
	const struct sl_counters *total; /* the dataplane's counters at the end */
	double elapsed_s, pps;        /* the run itself (left out of comparisons) */
	double cpu_pps;               /* packets per second of the loop's CPU time: on a
				 * shared machine, less noisy than pps */
	int complete;
};

/* Returns 0, or -1 when out of memory. */
int rp_report_init(struct rp_report *r, const struct sl_config *cfg);
void rp_report_free(struct rp_report *r);

/* A new action (returns it, NULL when out of memory); command is copied. */
#define RP_BY_PLAN 1
#define RP_BY_GUARD 2

struct rp_action *rp_action_add(struct rp_report *r, int by_plan, unsigned line,
				uint64_t at_ms, const char *command);

/* A slice boundary at at_ns (relative) before packet number first_pkt;
 * now: the counters at that moment (after the caller's sweep, so that
 * active flows are those alive then).  The open slice is closed and a new
 * one opened, unless the open one saw no packet yet: actions at one
 * instant share a slice.  Returns 0, or -1 when out of memory. */
int rp_slice_begin(struct rp_report *r, uint64_t at_ns, uint64_t first_pkt,
		   const struct sl_counters *now);

/* The table in force in the open slice (after its actions). */
void rp_slice_table(struct rp_report *r, const struct sl_view *v);

/* The open slice (NULL before the first). */
static inline struct rp_slice *rp_slice_cur(struct rp_report *r)
{
	return r->nslices ? &r->slices[r->nslices - 1] : NULL;
}

/* Record that action number a starts the open slice. */
void rp_slice_action(struct rp_report *r, unsigned a);

/* Close the last slice at to_ns (the end of the capture). */
void rp_slice_close(struct rp_report *r, uint64_t to_ns, const struct sl_counters *now);

json_t *rp_report_json(const struct rp_report *r);

/* The summary a person reads in ten seconds. */
void rp_report_text(const struct rp_report *r, FILE *f);

#endif
