/* Prometheus metrics of sluiced: the text exposition format (version
 * 0.0.4) of what `status`, `stats`, `guard list` and `slice list` show,
 * served over HTTP by libmicrohttpd on [control] metrics = ADDRESS:PORT.
 *
 * The figures come from the same readers as those commands (the pinned
 * stats map summed by sl_daemon_counters, sl_state_measure, the guards'
 * figures of sl_daemon_guards), read by the daemon when it is scraped:
 * the workers do nothing for it.  The HTTP server runs in sluiced's one
 * event loop (MHD_USE_EPOLL without a thread of its own: its epoll
 * descriptor is polled with the control socket's), so a scrape reads the
 * daemon's state between two requests, never during a change.
 *
 * The endpoint has no authentication (anyone who reaches the port reads
 * the figures; nothing can be changed through it): bind it to loopback, or
 * to an address only the monitoring network reaches. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct sl_daemon;

/* ---- the exposition format ---- */

/* The text being built; oom set once an allocation failed (the text is
 * then incomplete and must not be served). */
struct sl_prom {
	char *buf;
	size_t len, cap;
	int oom;
};

struct sl_prom_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, a constant of the code */
	const char *value; /* any text: escaped (\\, \", \n) */
};

/* # HELP and # TYPE lines of a family (type "counter", "gauge",
 * "histogram"); help is escaped (\\, \n).  Every sample of the family
 * follows before the next family (the format wants them together). */
void sl_prom_family(struct sl_prom *p, const char *name, const char *type, const char *help);

/* One sample line: name{labels} value. */
void sl_prom_u64(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		 unsigned nl, uint64_t v);
void sl_prom_f64(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		 unsigned nl, double v);

/* A histogram's samples from a latency histogram of SL_HIST_BUCKETS log
 * buckets of microseconds (sluice_layout.h): cumulative _bucket lines at
 * every octave, le = 2^k us (0.000001 .. 8.388608 s; those are bucket
 * edges, so the counts are exact), le="+Inf", _sum (seconds; only when
 * sum_us is given: the dataplane's histograms keep no sum) and _count. */
void sl_prom_hist_us(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		     unsigned nl, const uint64_t *h, const uint64_t *sum_us);

/* A number as the format writes it: integers exactly, NaN, +Inf, -Inf,
 * else the shortest text that reads back as the same double.  buf holds
 * at least 32 bytes. */
void sl_prom_number(char *buf, size_t len, double v);

void sl_prom_free(struct sl_prom *p);

/* ---- the figures of a daemon ---- */

/* The whole exposition (malloc'd, *len bytes, NUL-terminated), NULL if out
 * of memory. */
char *sl_metrics_render(struct sl_daemon *d, size_t *len);

/* ---- the HTTP endpoint ---- */

struct MHD_Daemon;

struct sl_metrics {
	struct MHD_Daemon *mhd;   /* NULL: no endpoint */
	int fd;                   /* MHD's epoll descriptor, -1 when off */
	struct sl_daemon *d;
	char addr[64];
	uint64_t scrapes, refused; /* /metrics served; other paths and methods */
};

/* Listen on addr ("127.0.0.1:9469", "[::1]:9469") and serve GET /metrics
 * from d (404 for any other path, 405 for any other method).  Returns 0,
 * or -1 with err (the address and the reason). */
int sl_metrics_listen(struct sl_metrics *m, const char *addr, struct sl_daemon *d, char *err,
		      size_t errlen);

/* The descriptor to poll for POLLIN (-1: none), and within how many ms
 * sl_metrics_run must be called even if it is not readable (UINT64_MAX:
 * no limit). */
int sl_metrics_fd(const struct sl_metrics *m);
uint64_t sl_metrics_timeout_ms(const struct sl_metrics *m);

/* Accept, read, answer and close what is ready; never blocks. */
void sl_metrics_run(struct sl_metrics *m);

void sl_metrics_close(struct sl_metrics *m);

#endif
