/* sluice-dp's DPDK telemetry commands (/sluice/..., for dpdk-telemetry.py
 * and sluicectl flows / flow).  The callbacks run on DPDK's telemetry
 * threads: they read the shared counters and the tables in force, and get
 * flow-table contents from each worker through its snapshot (worker.h),
 * never by touching a worker's table. */
#ifndef SLUICE_TELEMETRY_H
#define SLUICE_TELEMETRY_H

#include <stddef.h>

#include "config.h"
#include "tables.h"
#include "worker.h"

/* How long a request waits for a worker's snapshot. */
#define SL_TEL_WAIT_MS 500
/* Flows one /sluice/flows reply may list: a telemetry reply is at most
 * 16 KB of JSON. */
#define SL_TEL_FLOWS_MAX 100
#define SL_TEL_FLOWS_DEFAULT 20

struct sl_dp_tel {
	const struct sl_config *cfg;
	const struct sl_table_src *src;
	struct sl_dp_worker **w;
	unsigned nw;
	const unsigned *lcores; /* lcore of worker i */
	const char *instance;   /* "" in INI mode */
};

/* Register the commands (once; they answer once t is set, until fini).
 * t must stay valid until sl_dp_telemetry_fini.  Returns 0, or -1 with
 * err set. */
int sl_dp_telemetry_init(const struct sl_dp_tel *t, char *err, size_t errlen);

/* Stop answering (the commands stay registered: DPDK 22.11 cannot remove
 * them; they then reply with an error). */
void sl_dp_telemetry_fini(void);

#endif
