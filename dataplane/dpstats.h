/* sluice-dp's end of run report: the human summary on stdout and the
 * --stats JSON file.  No DPDK here: the glue fills struct sl_dp_report. */
#ifndef SLUICE_DPSTATS_H
#define SLUICE_DPSTATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "stats.h"
#include "tables.h"

struct sl_dp_report {
	const struct sl_config *cfg;
	const struct sl_view *view;    /* tables in force at the end */
	const struct sl_counters *sum; /* summed over the workers */
	unsigned nworkers;
	const uint64_t *worker_rx;     /* [nworkers]: packets each worker received */
	double elapsed_s;
	double pps;                    /* rx packets per second of forwarding */
	uint64_t rx_missed[SL_MAX_PORTS]; /* ethdev imissed */
	uint64_t tx_errors[SL_MAX_PORTS]; /* ethdev oerrors */
	uint64_t ft_capacity;          /* flows, all workers */
	uint64_t ft_bytes;             /* flow table memory, all workers */
	const char *stop_reason;       /* why the run ended (summary only) */
};

/* The JSON object (caller json_decref's it); NULL if out of memory. */
struct json_t;
struct json_t *sl_dp_stats_json(const struct sl_dp_report *r);

/* Write the JSON (pretty) to path.  Returns 0, or -1 with err naming the
 * file and the reason. */
int sl_dp_stats_write(const struct sl_dp_report *r, const char *path, char *err, size_t errlen);

/* Short human summary. */
void sl_dp_summary(const struct sl_dp_report *r, FILE *f);

#endif
