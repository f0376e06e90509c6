/* Rollout guards: evidence in, verdicts out (no I/O; commands.c acts).
 *
 * A guard ([guard NAME] in the configuration or a plan, control/PROTOCOL.md
 * "Guards") compares the challenger with the champion of one service (or
 * one slice of it) on one signal.  Every signal is a per-flow count of bad
 * flows out of flows:
 *   rst        flows reset by the backend side  / new flows
 *   handshake  handshakes that failed           / handshakes ended (ok + failed)
 *   icmp       flows with an ICMP unreachable   / new flows
 *   ttfb       flows whose TTFB >= threshold    / flows with a TTFB
 *   synack     handshakes whose SYN->SYN-ACK >= threshold / handshakes ok
 *   pushed:N   what `sluicectl evidence push --signal N` added up
 * The dataplane counts per role (champion, challenger) of the table it
 * uses (struct sl_ev_cell); pushes name a group, which is given the role
 * it has when the push arrives.  Latency thresholds are applied at bucket
 * granularity (4 buckets per octave): a flow is bad when its time is at
 * least the first bucket edge at or above the threshold, so a flow below
 * the threshold is never bad and one up to 19 % above it may count good;
 * both groups are measured alike.
 *
 * The window.  Counts are cumulative; a guard's window starts when its
 * rollout enters a step (step, share, champion and challenger: a change of
 * any starts a new window) and both groups are compared over that same
 * window, with their measured flows (sticky flows make them differ from the
 * configured share).  A counter that goes down (the dataplane restarted)
 * starts the window again.  At every look (each second, and at each push)
 * the counts go through the always-valid sequential test (sequential.h):
 * looking every second does not raise the false-alarm rate above alpha.
 *
 * Verdicts: collecting (a group below min_flows), passing (both at
 * min_flows, not failed), failed (the test rejected: the challenger is
 * worse than the champion by more than margin; latched for the window). */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "../dataplane/config.h"
#include "../ebpf/sluice_layout.h"
#include "rollout.h"
#include "sequential.h"

/* "rst", ..., "pushed:billing-errors". */
const char *sl_guard_signal_str(const struct sl_cfg_guard *g, char *buf, size_t len);

/* A guard definition as JSON: the keys and values of its INI section
 * ({"name", "service", "slice"?, "signal", "threshold"?, "min_flows",
 * "margin", "alpha", "on_fail", "on_inconclusive", "reset"}), strings but
 * min_flows (a number; a string is read too).  from_json parses it with
 * sl_guard_parse, so the rules and messages are the configuration's;
 * where prefixes them ("guard_defs[0]").  Unknown keys are refused. */
json_t *sl_guard_def_json(const struct sl_cfg_guard *g);
int sl_guard_def_from_json(struct sl_cfg_guard *g, const json_t *o, const char *where,
			   char *err, size_t errlen);

/* Pushed evidence: cumulative counts per service, slice ("" the whole
 * service), signal name and role. */
#define SL_MAX_PUSHED 512

struct sl_pushed_ent {
	char service[SL_NAME_LEN];
	char slice[SL_NAME_LEN];
	char signal[SL_NAME_LEN];
	uint64_t total[2], bad[2]; /* [enum sl_ev_role] */
};

struct sl_pushed {
	uint32_t n;
	struct sl_pushed_ent e[SL_MAX_PUSHED];
};

/* Add a push; returns its entry (the cumulative counts), or NULL with err
 * when the table of pushes is full or a count would overflow. */
struct sl_pushed_ent *sl_pushed_add(struct sl_pushed *p, const char *service, const char *slice,
				    const char *signal, int role, uint64_t total, uint64_t bad,
				    char *err, size_t errlen);

/* Counts of one guard: n flows, x bad, per role. */
struct sl_guard_counts {
	uint64_t n[2], x[2];
};

/* Where a guard's counts come from in the table in force. */
struct sl_guard_src {
	int svc;   /* service index, -1: not in the table */
	int slot;  /* slice slot, -1: the whole service */
	char why[128]; /* svc < 0 or slice missing: what is wrong */
};

void sl_guard_resolve(const struct sl_cfg_guard *g, const struct sl_table_hdr *hdr,
		      struct sl_guard_src *src);

/* The guard's cumulative counts now, summed over nworkers entries of stats
 * (dataplane signals) or from the pushes. */
void sl_guard_read(const struct sl_cfg_guard *g, const struct sl_guard_src *src,
		   const struct sl_counters *stats, uint32_t nworkers, const struct sl_pushed *p,
		   struct sl_guard_counts *c);

/* The histogram bucket from which a latency counts as bad. */
unsigned sl_guard_bad_bucket(uint32_t threshold_us);

enum sl_guard_verdict { SL_GV_NONE = 0, SL_GV_COLLECTING, SL_GV_PASSING, SL_GV_FAILED };

const char *sl_guard_verdict_name(enum sl_guard_verdict v); /* "collecting", ... */

/* One guard of one rollout: its window and test. */
struct sl_guard_run {
	int used;
	struct sl_cfg_guard def;
	/* the window's key */
	uint64_t ro_started_ms;
	uint32_t step;
	uint16_t share_bp;
	char champion[SL_NAME_LEN], challenger[SL_NAME_LEN];
	uint64_t window_ms;          /* when the window started */
	uint32_t restarts;           /* windows restarted by counters going down */
	struct sl_guard_counts base; /* cumulative counts at the window's start */
	struct sl_guard_counts win;  /* counts in the window at the last look */
	struct sl_seq seq;
	enum sl_guard_verdict verdict;
	uint64_t failed_ms;          /* when it failed */
	char action[160];            /* what was done about it ("rollout aborted") */
	char src_why[128];           /* the counts' source is missing */
	int frozen;                  /* the rollout ended: figures as they were */
};

struct sl_guard_board {
	struct sl_guard_run r[SL_MAX_SERVICES][SL_RO_MAX_GUARDS];
};

/* What a look found for one service, guard by guard. */
struct sl_guard_look_svc {
	uint32_t nfailed;        /* guards that failed at this look (newly) */
	uint8_t failed[SL_RO_MAX_GUARDS];
};

/* Look at every guard of service svc's rollout ro (champion and challenger
 * names as in force, hdr the table in force): start or restart windows,
 * read the counts, run the test.  The guards that fail at this look are
 * listed in *out. */
void sl_guards_look(struct sl_guard_board *b, int svc, const struct sl_rollout *ro,
		    const char *champion, const char *challenger, const struct sl_table_hdr *hdr,
		    const struct sl_counters *stats, uint32_t nworkers, const struct sl_pushed *p,
		    uint64_t now_ms, struct sl_guard_look_svc *out);

/* Before a step is promoted at the end of its dwell: 0 when every guard has
 * at least min_flows in each group and none failed; otherwise 1 with the
 * reason ("guard billing-errors inconclusive: challenger 120 of the 1000
 * flows it needs") and *pause: 1 when a guard in the way says
 * on_inconclusive = pause (0: all of them say hold). */
int sl_guards_gate(const struct sl_guard_board *b, int svc, const struct sl_rollout *ro,
		   int *pause, char *reason, size_t len);

/* "billing-errors: challenger 4.60 % vs champion 1.80 % on 5000 / 95000
 * flows: failed, rollout aborted at 12:03:11". */
void sl_guard_sentence(const struct sl_guard_run *r, char *buf, size_t len);

/* The figures of a run (status, journal): {"name", "signal", "slice"?,
 * "verdict", "champion": {"flows", "bad", "rate"}, "challenger": {...},
 * "statistic", "threshold", "bounds": [lo, hi], "min_flows", "margin",
 * "alpha", "on_fail", "on_inconclusive", "window_s", "sentence", "action"?,
 * "failed_at_ms"?}. */
json_t *sl_guard_run_json(const struct sl_guard_run *r, uint64_t now_ms);

#endif
