/* sluiced's commands: startup (maps, journal replay, first table), one
 * handler per protocol command, the rollout timer and the stats sampling.
 * Every change goes: plan (planners.c) -> busy check -> render -> journal
 * (fsync) -> publish -> wait for the workers' acks -> reply. */
#ifndef SLUICE_COMMANDS_H
#define SLUICE_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "guard.h"
#include "journal.h"
#include "maps.h"
#include "state.h"

#define SL_ACK_LAT_RING 4096

/* sl_daemon_request's answer when the reply waits for the dataplane
 * (defer_acks): sl_daemon_poll gives it later. */
#define SL_DAEMON_DEFERRED ((char *)1)

/* A published change whose acknowledgement (and shadow filters) the daemon
 * waits for without blocking (defer_acks). */
struct sl_pending {
	int active;
	int deferred;       /* a request's reply waits for it */
	int acks_done;
	uint32_t gen;
	uint64_t pub_us;    /* sl_mono_us of the publication */
	int shadow;         /* wait for the filters too */
	json_t *res;        /* the result (owned; NULL: a log line only) */
	json_t *id;         /* the request's id (owned) */
	char what[64];      /* "rollout_step", "published at last", ... */
	char who[64];
	char reason[512];
	char note[512];
	char text[400];     /* the log line's acks part */
};

struct sl_daemon {
	/* Set by main before sl_daemon_start. */
	char config_path[512];
	struct sl_config *cfg;          /* loaded configuration (owned, heap) */
	char instance[SL_NAME_LEN];
	char bpffs[256];
	char socket_path[256];
	char journal_path[256];
	char bpf_object[512];
	/* In-process use (sluice-replay): the tables in memory (sl_maps_memory:
	 * no bpffs, no dataplane attached), and a clock the caller advances
	 * (packet time) for rollout dwells and journal times. */
	int in_memory;
	int virtual_clock;
	uint64_t clock_ms;

	struct sl_maps maps;
	struct sl_journal journal;
	uint32_t journal_rotate;        /* [control] journal_rotate, as started */
	uint32_t journal_keep;          /* [control] journal_keep, as started */
	uint64_t rotate_retry_ms;       /* a failed rotation is tried again then */
	struct sl_state *st;
	struct sl_txn *txn;             /* scratch: one change at a time */
	uint64_t next_sample_ms;
	uint64_t tick_retry_ms;         /* a plan step waits for acks until then */
	int unpublished;                /* journaled generation st->gen not yet published */
	int defer_acks;                 /* sluiced: a change not acknowledged within
					   SL_ACK_SPIN_US is answered later, the
					   event loop serving others meanwhile */
	struct sl_pending pending;

	uint32_t lat[SL_ACK_LAT_RING];  /* ack latencies (us), last ones */
	uint64_t lat_count;
	uint32_t lat_max;
	/* every ack latency since start, for the metrics' histogram (the ring
	 * forgets, a Prometheus histogram must not) */
	uint64_t lat_hist[SL_HIST_BUCKETS];
	uint64_t lat_sum_us;
	uint64_t ack_timeouts;          /* changes not acknowledged within ack_timeout */

	/* The dataplane counts per shadow rule slot: what a slot had counted
	 * when its rule was added is not that rule's. */
	struct sl_shadow_counters shadow_base[SL_MAX_SHADOWS];

	/* Guards (guard.h): their windows and tests, the pushed evidence, and
	 * the rollouts held at the end of a dwell (on_inconclusive = hold)
	 * with the reason; none of it journaled but the pushes, so a
	 * restarted sluiced starts every guard's window again. */
	struct sl_guard_board *board;
	/* In-process use (sluice-replay): the one worker's counters, read by
	 * the guards instead of the stats map. */
	const struct sl_counters *local_stats;
	struct sl_pushed *pushed;
	uint8_t held[SL_MAX_SERVICES];
	char (*held_why)[320];          /* [SL_MAX_SERVICES] */
};

/* Who asks: a client (SO_PEERCRED), the daemon itself (uid -1), or a
 * named actor (a replay schedule's line). */
struct sl_actor {
	long uid;
	long pid;
	const char *name; /* non-NULL: the journal's actor is this string */
};

/* Wall clock in ms (rollouts and journal times). */
uint64_t sl_now_ms(void);

/* One log line on stderr ("sluiced: ..."). */
void sl_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send the log lines to fn instead (NULL: back to stderr). */
void sl_log_sink(void (*fn)(void *ctx, const char *line), void *ctx);

/* Maps, journal replay and the first publication (DESIGN §4, the start
 * cases of the brief).  Returns 0, or -1 with err (exit 1). */
int sl_daemon_start(struct sl_daemon *d, char *err, size_t errlen);
void sl_daemon_stop(struct sl_daemon *d);

/* One request line -> one reply line (malloc'd, '\n'-terminated), or
 * SL_DAEMON_DEFERRED (defer_acks only). */
char *sl_daemon_request(struct sl_daemon *d, const char *line, size_t len,
			const struct sl_actor *who);

/* The dataplane's counters summed over its workers into *sum (the stats
 * map, or local_stats in-process); returns the number of workers (0: no
 * dataplane, *sum all zero).  stats and the metrics read them this way. */
uint32_t sl_daemon_counters(const struct sl_daemon *d, struct sl_counters *sum);

/* Port p's own counters as the attached dataplane last read them (about
 * once a second): 1 with *out, 0 when no dataplane is attached or it has
 * not read them yet. */
int sl_daemon_port_dev(const struct sl_daemon *d, unsigned p, struct sl_port_dev *out);

/* Whether group g of service s is listed with its counters c: its champion
 * and challenger, any other group while flows it had are counted. */
int sl_daemon_group_shown(const struct sl_daemon *d, int s, unsigned g,
			  const struct sl_grp_counters *c);

/* Shadow rule slot r's counters since the rule was added (a dataplane that
 * started again counts from zero). */
void sl_daemon_shadow_counts(struct sl_daemon *d, unsigned r, struct sl_shadow_counters *c);

/* The figures of the guards of service svc's rollout (guard.h
 * sl_guard_run_json objects; [] without guards). */
json_t *sl_daemon_guards(const struct sl_daemon *d, int svc, uint64_t now_ms);
/* The pending change (defer_acks): 1 when it has settled (acknowledged,
 * timed out, dataplane gone), *reply then the deferred request's reply (NULL
 * if none waited for it, or out of memory); 0 while it waits or when there
 * is none. */
int sl_daemon_poll(struct sl_daemon *d, char **reply);

/* Stats sampling and rollout steps due by now; the next time it has
 * something to do (ms, wall clock). */
void sl_daemon_timer(struct sl_daemon *d, uint64_t now_ms);
uint64_t sl_daemon_next_ms(const struct sl_daemon *d);

#endif
