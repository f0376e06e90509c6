/* Per-worker counters.  One writer (the worker lcore), plain increments;
 * readers sum across workers. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "../ebpf/sluice_layout.h"
#include "parse.h"

/* struct sl_counters and struct sl_grp_counters live in the shared layout
 * (../ebpf/sluice_layout.h): the dataplane writes them into the stats map. */
_Static_assert(SL_BAD__COUNT <= SL_MAX_BAD, "malformed counters fit the layout");

/* acc += c, field by field. */
void sl_counters_add(struct sl_counters *acc, const struct sl_counters *c);

/* Malformed packets of every reason. */
uint64_t sl_malformed_total(const struct sl_counters *c);

/* Percentile pct (0..100) of a latency histogram (SL_HIST_BUCKETS log
 * buckets of us, sl_hist_bucket): the upper edge of the bucket holding the
 * value of rank ceil(n * pct / 100), so the value is at most that and
 * within a quarter octave (19 %) below it; the last bucket, open above,
 * gives its lower edge.  -1 when the histogram is empty. */
int64_t sl_hist_pct(const uint64_t *h, unsigned pct);

/* "client", "backend" or "shadow" (enum sl_port_role); "?" for any other. */
const char *sl_role_name(uint8_t role);

#endif
