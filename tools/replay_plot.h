/* sluice-replay's per-interval figures and its plot: every --interval of
 * packet time, per service, the share configured at the interval's end and
 * the share of the interval's new flows the challenger really got (report
 * "intervals"); --plot FILE.svg|FILE.png draws them with the actions and
 * the guards' verdicts marked, through Debian's gnuplot (a data file and a
 * script in a temporary directory). */
#ifndef SLUICE_REPLAY_PLOT_H
#define SLUICE_REPLAY_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "replay_report.h"
#include "stats.h"
#include "tables.h"

struct rp_plot_point {
	uint16_t share_bp;            /* configured at the interval's end */
	uint8_t champion, challenger; /* group indexes then */
	uint64_t champ_flows, chall_flows; /* new flows in the interval */
};

struct rp_plot {
	uint64_t interval_ns;
	unsigned nsvc, n, cap;        /* services; intervals closed */
	uint64_t from_ns;             /* start of the open interval */
	uint64_t *to_ns;              /* [n] interval ends, after the first packet */
	struct rp_plot_point *pt;     /* [n * nsvc] */
	uint64_t (*prev)[SL_MAX_GROUPS]; /* [nsvc] flows counted at from_ns */
};

int rp_plot_init(struct rp_plot *p, unsigned nsvc, uint64_t interval_ns);
void rp_plot_free(struct rp_plot *p);

/* Closes the open interval at to_ns (relative) with the counters and the
 * table in force then.  Returns 0, or -1 when out of memory. */
int rp_plot_close(struct rp_plot *p, uint64_t to_ns, const struct sl_counters *c,
		  const struct sl_table_hdr *h);

/* report.json "intervals". */
json_t *rp_plot_json(const struct rp_plot *p, const struct sl_config *cfg);

/* NULL when FILE ends in .svg or .png, else what is wrong (for --plot). */
const char *rp_plot_ext_error(const char *file);

/* The gnuplot program on PATH: 0, or -1 with what to install in err. */
int rp_plot_gnuplot_check(char *err, size_t errlen);

/* Draws FILE (written whole or not at all).  Returns 0, or -1 with err. */
int rp_plot_write(const struct rp_plot *p, const struct rp_report *r, const char *file,
		  char *err, size_t errlen);

#endif
