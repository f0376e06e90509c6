/* Prometheus metrics of sluiced (see metrics.h). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "commands.h"
#include "errmsg.h"
#include "metrics.h"
#include "parse.h"
#include "stats.h"

#ifndef SL_VERSION
#define SL_VERSION "unknown"
#endif

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_CONNECTIONS 16 /* scrapers at once: Prometheus needs one */
#define HTTP_TIMEOUT_S 10   /* a connection idle this long is closed */

/* ---- the exposition format ---- */

static void put(struct sl_prom *p, const char *s, size_t n)
{
	if (p->oom)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 16384;
		char *b;

		while (cap < p->len + n + 1)
			cap *= 2;
		b = realloc(p->buf, cap);
		if (!b) {
			p->oom = 1;
			return;
		}
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = 0;
}

static void puts_(struct sl_prom *p, const char *s)
{
	put(p, s, strlen(s));
}

/* quote: label values also escape '"'; HELP text does not. */
static void put_escaped(struct sl_prom *p, const char *s, int quote)
{
	for (const char *c = s; *c; c++) {
		if (*c == '\\')
			puts_(p, "\\\\");
		else if (*c == '\n')
			puts_(p, "\\n");
		else if (*c == '"' && quote)
			puts_(p, "\\\"");
		else
			put(p, c, 1);
	}
}

void sl_prom_family(struct sl_prom *p, const char *name, const char *type, const char *help)
{
	puts_(p, "# HELP ");
	puts_(p, name);
	puts_(p, " ");
	put_escaped(p, help, 0);
	puts_(p, "\n# TYPE ");
	puts_(p, name);
	puts_(p, " ");
	puts_(p, type);
	puts_(p, "\n");
}

static void put_labels(struct sl_prom *p, const struct sl_prom_label *l, unsigned nl,
		       const char *le)
{
	if (!nl && !le)
		return;
	puts_(p, "{");
	for (unsigned i = 0; i < nl; i++) {
		puts_(p, i ? "," : "");
		puts_(p, l[i].name);
		puts_(p, "=\"");
		put_escaped(p, l[i].value, 1);
		puts_(p, "\"");
	}
	if (le) {
		puts_(p, nl ? ",le=\"" : "le=\"");
		puts_(p, le);
		puts_(p, "\"");
	}
	puts_(p, "}");
}

static void line(struct sl_prom *p, const char *name, const char *suffix,
		 const struct sl_prom_label *l, unsigned nl, const char *le, const char *value)
{
	puts_(p, name);
	puts_(p, suffix);
	put_labels(p, l, nl, le);
	puts_(p, " ");
	puts_(p, value);
	puts_(p, "\n");
}

void sl_prom_u64(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		 unsigned nl, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	line(p, name, "", l, nl, NULL, num);
}

void sl_prom_number(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else {
		/* the shortest of %.15g..%.17g that reads back exactly */
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

void sl_prom_f64(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		 unsigned nl, double v)
{
	char num[40];

	sl_prom_number(num, sizeof(num), v);
	line(p, name, "", l, nl, NULL, num);
}

void sl_prom_hist_us(struct sl_prom *p, const char *name, const struct sl_prom_label *l,
		     unsigned nl, const uint64_t *h, const uint64_t *sum_us)
{
	char le[32], num[40];
	uint64_t run = 0;
	unsigned k = 0;

	/* Bucket 1 + 4 * oct starts at 2^oct us: the values below it are
	 * buckets 0 .. 4 * oct.  Latencies are whole microseconds, cut down,
	 * so "below 2^oct us" is "at most 2^oct us" of the real time. */
	for (unsigned oct = 0; 1 + 4 * oct < SL_HIST_BUCKETS; oct++) {
		size_t n;

		for (; k <= 4 * oct; k++)
			run += h[k];
		n = (size_t)snprintf(le, sizeof(le), "%.6f", (double)sl_hist_edge(1 + 4 * oct) / 1e6);
		while (n > 1 && le[n - 1] == '0')
			le[--n] = 0;
		if (le[n - 1] == '.')
			le[--n] = 0;
		snprintf(num, sizeof(num), "%" PRIu64, run);
		line(p, name, "_bucket", l, nl, le, num);
	}
	for (; k < SL_HIST_BUCKETS; k++)
		run += h[k];
	snprintf(num, sizeof(num), "%" PRIu64, run);
	line(p, name, "_bucket", l, nl, "+Inf", num);
	if (sum_us) {
		sl_prom_number(num, sizeof(num), (double)*sum_us / 1e6);
		line(p, name, "_sum", l, nl, NULL, num);
	}
	snprintf(num, sizeof(num), "%" PRIu64, run);
	line(p, name, "_count", l, nl, NULL, num);
}

void sl_prom_free(struct sl_prom *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

/* ---- the figures ---- */

/* Labels as a compound literal and its length. */
#define LBL(...) (const struct sl_prom_label[]){ __VA_ARGS__ }, \
	(unsigned)(sizeof((const struct sl_prom_label[]){ __VA_ARGS__ }) / \
		   sizeof(struct sl_prom_label))

/* enum sl_ev_role's names: the role label */
static const char *const roles[2] = { "champion", "challenger" };

/* A family read from a field of a counters struct (offsetof). */
struct field {
	const char *name, *help;
	size_t off;
};

struct guard_ent {
	const json_t *g;            /* its figures (sl_guard_run_json) */
	struct sl_prom_label l[6];  /* service, guard, signal, slice?, and two more */
	unsigned n;
	int svc;
};

struct ctx {
	struct sl_prom *p;
	struct sl_daemon *d;
	const struct sl_state *st;
	const struct sl_table_hdr *h;
	const struct sl_counters *sum;
	uint32_t nw;
	uint64_t now;
	json_t *guards[SL_MAX_SERVICES]; /* sl_daemon_guards of each service with guards */
	struct guard_ent *guard;         /* [SL_MAX_SERVICES * SL_RO_MAX_GUARDS] */
	unsigned nguard;
};

static const char *svc_name(const struct ctx *x, int s)
{
	return x->st->svc[s].st.name;
}

static const char *grp_name(const struct ctx *x, unsigned g)
{
	return x->st->base_groups[g].name;
}

static void build_info(struct ctx *x)
{
	char layout[16];

	snprintf(layout, sizeof(layout), "%u", SL_LAYOUT_VERSION);
	sl_prom_family(x->p, "sluice_build_info", "gauge",
		       "sluiced's version and table layout version (the value is always 1).");
	sl_prom_u64(x->p, "sluice_build_info", LBL({ "version", SL_VERSION },
						    { "layout", layout }), 1);
	sl_prom_family(x->p, "sluice_generation", "gauge",
		       "Table generation in force (sluicectl status: generation).");
	sl_prom_u64(x->p, "sluice_generation", NULL, 0, x->st->gen);
	sl_prom_family(x->p, "sluice_dataplane_workers", "gauge",
		       "Worker lcores of the attached sluice-dp (0: no dataplane attached).");
	sl_prom_u64(x->p, "sluice_dataplane_workers", NULL, 0, x->nw);
}

static void services(struct ctx *x)
{
	sl_prom_family(x->p, "sluice_service_generation", "gauge",
		       "Generation of the service's last change.");
	for (int s = 0; s < x->st->nservices; s++)
		if (svc_name(x, s)[0])
			sl_prom_u64(x->p, "sluice_service_generation",
				    LBL({ "service", svc_name(x, s) }), x->st->svc[s].gen);
	sl_prom_family(x->p, "sluice_service_strategy", "gauge",
		       "Strategy in force (1 for the service's strategy, 0 for the others).");
	for (int s = 0; s < x->st->nservices; s++)
		for (int k = SL_STRAT_STEADY; svc_name(x, s)[0] && k <= SL_STRAT_ROLLOUT; k++)
			sl_prom_u64(x->p, "sluice_service_strategy",
				    LBL({ "service", svc_name(x, s) },
					{ "strategy", sl_strategy_name((enum sl_strategy)k) }),
				    x->st->svc[s].st.strategy == k);

	/* Shares: configured for champion and challenger, measured over the
	 * status window (sl_state_measure: new flows of the last 10 s) only
	 * when something was measured; no sample rather than a made-up 0. */
	sl_prom_family(x->p, "sluice_share_configured_ratio", "gauge",
		       "Configured share of new flows of the group (0..1; the challenger's is "
		       "the configured share in basis points / 10000).");
	for (int s = 0; s < x->st->nservices; s++) {
		const struct sl_svc_rec *r = &x->st->svc[s].st;
		double ch = r->share_bp / (double)SL_SHARE_MAX_BP;

		if (!r->name[0])
			continue;
		sl_prom_f64(x->p, "sluice_share_configured_ratio",
			    LBL({ "service", r->name }, { "group", r->champion },
				{ "role", roles[0] }), r->challenger[0] ? 1.0 - ch : 1.0);
		if (r->challenger[0] && strcmp(r->challenger, r->champion))
			sl_prom_f64(x->p, "sluice_share_configured_ratio",
				    LBL({ "service", r->name }, { "group", r->challenger },
					{ "role", roles[1] }), ch);
	}
	sl_prom_family(x->p, "sluice_share_measured_ratio", "gauge",
		       "Measured share of new flows of the group over the last "
		       "sluice_share_measured_window_seconds (absent: nothing measured).");
	for (int s = 0; s < x->st->nservices; s++) {
		const struct sl_svc_rec *r = &x->st->svc[s].st;
		struct sl_measure m;

		if (!r->name[0])
			continue;
		sl_state_measure(x->st, s, &m);
		if (!m.measured)
			continue;
		/* of all new flows: a third group's (sticky from an earlier
		 * champion) are in neither */
		sl_prom_f64(x->p, "sluice_share_measured_ratio",
			    LBL({ "service", r->name }, { "group", r->champion },
				{ "role", roles[0] }),
			    (double)m.champion_flows / (double)m.total_flows);
		if (r->challenger[0] && strcmp(r->challenger, r->champion))
			sl_prom_f64(x->p, "sluice_share_measured_ratio",
				    LBL({ "service", r->name }, { "group", r->challenger },
					{ "role", roles[1] }),
				    (double)m.challenger_flows / (double)m.total_flows);
	}
	sl_prom_family(x->p, "sluice_share_measured_window_seconds", "gauge",
		       "Length of the window the measured share is taken over.");
	for (int s = 0; s < x->st->nservices; s++) {
		struct sl_measure m;

		if (!svc_name(x, s)[0])
			continue;
		sl_state_measure(x->st, s, &m);
		if (m.measured)
			sl_prom_u64(x->p, "sluice_share_measured_window_seconds",
				    LBL({ "service", svc_name(x, s) }), m.interval_s);
	}
	sl_prom_family(x->p, "sluice_service_packets_total", "counter",
		       "Client to server packets of the service (since sluice-dp started).");
	for (int s = 0; s < x->st->nservices; s++)
		if (svc_name(x, s)[0])
			sl_prom_u64(x->p, "sluice_service_packets_total",
				    LBL({ "service", svc_name(x, s) }), sl_svc_pkts(x->sum, (unsigned)s));
}

/* A per service and group family of struct sl_grp_counters field off: the
 * groups `sluicectl stats` lists (sl_daemon_group_shown). */
static void grp_family(struct ctx *x, const char *name, const char *type, const char *help,
		       size_t off)
{
	sl_prom_family(x->p, name, type, help);
	for (int s = 0; s < x->st->nservices; s++) {
		if (!svc_name(x, s)[0])
			continue;
		for (unsigned g = 0; g < x->h->ngroups; g++) {
			const struct sl_grp_counters *c = &x->sum->grp[s][g];
			uint64_t v;

			if (!sl_daemon_group_shown(x->d, s, g, c))
				continue;
			memcpy(&v, (const char *)c + off, sizeof(v));
			sl_prom_u64(x->p, name, LBL({ "service", svc_name(x, s) },
						    { "group", grp_name(x, g) }), v);
		}
	}
}

static void groups(struct ctx *x)
{
	static const struct field f[] = {
		{ "sluice_packets_total", "Client to server packets sent to the group.",
		  offsetof(struct sl_grp_counters, pkts) },
		{ "sluice_bytes_total", "Client to server bytes sent to the group.",
		  offsetof(struct sl_grp_counters, bytes) },
		{ "sluice_flows_total", "New flows decided for the group.",
		  offsetof(struct sl_grp_counters, flows) },
		{ "sluice_flows_active", "Flows of the group tracked now.",
		  offsetof(struct sl_grp_counters, active) },
		{ "sluice_return_packets_total", "Server to client packets from the group's backends.",
		  offsetof(struct sl_grp_counters, ret_pkts) },
		{ "sluice_return_bytes_total", "Server to client bytes from the group's backends.",
		  offsetof(struct sl_grp_counters, ret_bytes) },
		{ "sluice_return_resets_total", "TCP RST packets from the group's backends.",
		  offsetof(struct sl_grp_counters, ret_rst) },
		{ "sluice_return_synacks_total", "SYN-ACK packets from the group's backends.",
		  offsetof(struct sl_grp_counters, ret_synack) },
	};

	/* counters but the one gauge (flows tracked now) */
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		grp_family(x, f[i].name, strstr(f[i].name, "_total") ? "counter" : "gauge",
			   f[i].help, f[i].off);
}

static void rollouts(struct ctx *x)
{
	sl_prom_family(x->p, "sluice_rollout_state", "gauge",
		       "Rollout state (1 for the service's, 0 for the others; none: never "
		       "had a rollout).");
	for (int s = 0; s < x->st->nservices; s++)
		for (int k = SL_RO_NONE; svc_name(x, s)[0] && k <= SL_RO_ABORTED; k++)
			sl_prom_u64(x->p, "sluice_rollout_state",
				    LBL({ "service", svc_name(x, s) },
					{ "state", sl_ro_state_name((enum sl_ro_state)k) }),
				    x->st->svc[s].ro.state == (enum sl_ro_state)k);
	sl_prom_family(x->p, "sluice_rollout_step", "gauge",
		       "Current step of the rollout, 1-based (0: no rollout).");
	for (int s = 0; s < x->st->nservices; s++) {
		const struct sl_rollout *r = &x->st->svc[s].ro;
		uint32_t step = r->state == SL_RO_NONE ? 0 : r->step + 1;

		if (svc_name(x, s)[0])
			sl_prom_u64(x->p, "sluice_rollout_step", LBL({ "service", svc_name(x, s) }),
				    step > r->nsteps ? r->nsteps : step);
	}
	sl_prom_family(x->p, "sluice_rollout_steps", "gauge", "Steps of the rollout's plan.");
	for (int s = 0; s < x->st->nservices; s++)
		if (svc_name(x, s)[0])
			sl_prom_u64(x->p, "sluice_rollout_steps", LBL({ "service", svc_name(x, s) }),
				    x->st->svc[s].ro.nsteps);
}

static void acks(struct ctx *x)
{
	sl_prom_family(x->p, "sluice_ack_latency_seconds", "histogram",
		       "From a publication to the last worker's acknowledgement, every "
		       "acknowledged change since sluiced started.");
	sl_prom_hist_us(x->p, "sluice_ack_latency_seconds", NULL, 0, x->d->lat_hist,
			&x->d->lat_sum_us);
	sl_prom_family(x->p, "sluice_ack_timeouts_total", "counter",
		       "Changes not acknowledged by every worker within [control] ack_timeout.");
	sl_prom_u64(x->p, "sluice_ack_timeouts_total", NULL, 0, x->d->ack_timeouts);
}

static void ports(struct ctx *x)
{
	static const struct field f[] = {
		{ "sluice_port_rx_packets_total", "Packets received on the port.",
		  offsetof(struct sl_counters, port_rx) },
		{ "sluice_port_tx_packets_total", "Packets sent on the port.",
		  offsetof(struct sl_counters, port_tx) },
		{ "sluice_port_tx_dropped_packets_total",
		  "Packets dropped because the port's TX queue was full.",
		  offsetof(struct sl_counters, port_drop) },
	};

	static const struct field dev[] = {
		{ "sluice_port_rx_missed_packets_total",
		  "Packets the port's device dropped because its RX ring was full (imissed).",
		  offsetof(struct sl_port_dev, rx_missed) },
		{ "sluice_port_rx_errors_total", "Bad frames the port's device received (ierrors).",
		  offsetof(struct sl_port_dev, rx_errors) },
		{ "sluice_port_rx_nombuf_total",
		  "Frames the port's device dropped for want of an mbuf (rx_nombuf).",
		  offsetof(struct sl_port_dev, rx_nombuf) },
		{ "sluice_port_tx_errors_total", "Frames the port's device failed to send (oerrors).",
		  offsetof(struct sl_port_dev, tx_errors) },
	};
	struct sl_port_dev pd[SL_MAX_PORTS];
	int known[SL_MAX_PORTS];

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const uint64_t *v = (const uint64_t *)(const void *)((const char *)x->sum + f[i].off);

		sl_prom_family(x->p, f[i].name, "counter", f[i].help);
		for (unsigned p = 0; p < x->h->nports && p < SL_MAX_PORTS; p++)
			sl_prom_u64(x->p, f[i].name, LBL({ "port", x->h->port_names[p] }), v[p]);
	}
	/* the device's own counters, while a dataplane is attached (they start
	 * again with it: a counter reset to Prometheus) */
	for (unsigned p = 0; p < x->h->nports && p < SL_MAX_PORTS; p++)
		known[p] = sl_daemon_port_dev(x->d, p, &pd[p]);
	for (size_t i = 0; i < sizeof(dev) / sizeof(dev[0]); i++) {
		sl_prom_family(x->p, dev[i].name, "counter", dev[i].help);
		for (unsigned p = 0; p < x->h->nports && p < SL_MAX_PORTS; p++)
			if (known[p])
				sl_prom_u64(x->p, dev[i].name, LBL({ "port", x->h->port_names[p] }),
					    *(const uint64_t *)(const void *)((const char *)&pd[p] +
									    dev[i].off));
	}
}

static void packets(struct ctx *x)
{
	const struct sl_counters *c = x->sum;
	const struct {
		const char *name, *help;
		uint64_t v;
	} f[] = {
		{ "sluice_malformed_forwarded_packets_total",
		  "Malformed packets forwarded ([dataplane] malformed).", c->malformed_fwd },
		{ "sluice_malformed_dropped_packets_total",
		  "Malformed packets dropped ([dataplane] malformed).", c->malformed_drop },
		{ "sluice_unmatched_forwarded_packets_total",
		  "Packets that matched no service, forwarded ([dataplane] other).", c->other_fwd },
		{ "sluice_unmatched_dropped_packets_total",
		  "Packets that matched no service, dropped ([dataplane] other).", c->other_drop },
		{ "sluice_shadow_port_rx_dropped_packets_total",
		  "Packets received on a shadow port (always dropped).", c->shadow_rx_drop },
		{ "sluice_return_untracked_packets_total",
		  "Server to client packets of no tracked flow.", c->ret_untracked },
		{ "sluice_flowtable_full_total",
		  "New flows the flow table had no room for: decided statelessly (they do not "
		  "stick to their group across a change).", c->ft_full },
		{ "sluice_flows_redecided_total",
		  "Flows decided again (port reuse after a close, --reset, expired).",
		  c->redecided },
		{ "sluice_flows_expired_total", "Flow table entries removed by the sweep.",
		  c->expired },
	};
	uint64_t used = 0;

	sl_prom_family(x->p, "sluice_malformed_packets_total", "counter",
		       "Malformed packets by reason (sluicectl stats: malformed).");
	for (int b = 1; b < SL_BAD__COUNT; b++)
		sl_prom_u64(x->p, "sluice_malformed_packets_total",
			    LBL({ "reason", sl_bad_name((enum sl_bad)b) }), c->malformed[b]);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		sl_prom_family(x->p, f[i].name, "counter", f[i].help);
		sl_prom_u64(x->p, f[i].name, NULL, 0, f[i].v);
	}
	for (int s = 0; s < x->st->nservices; s++)
		for (unsigned g = 0; g < x->h->ngroups; g++)
			used += c->grp[s][g].active;
	sl_prom_family(x->p, "sluice_flowtable_flows", "gauge",
		       "Flows tracked now, all workers.");
	sl_prom_u64(x->p, "sluice_flowtable_flows", NULL, 0, used);
	sl_prom_family(x->p, "sluice_flowtable_capacity_flows", "gauge",
		       "Flows the workers' tables may hold ([dataplane] flow_capacity + "
		       "flow_capacity_v6 of sluiced's configuration per worker; 0: no dataplane "
		       "attached).");
	sl_prom_u64(x->p, "sluice_flowtable_capacity_flows", NULL, 0,
		    ((uint64_t)x->d->cfg->flow_capacity + sl_cfg_capacity_v6(x->d->cfg)) * x->nw);
}

static void shadows(struct ctx *x)
{
	static const struct field f[] = {
		{ "sluice_shadow_flows_total", "New flows whose first packet was mirrored.",
		  offsetof(struct sl_shadow_counters, flows) },
		{ "sluice_shadow_packets_total", "Packets selected for a copy to the shadow port.",
		  offsetof(struct sl_shadow_counters, pkts) },
		{ "sluice_shadow_copy_drops_total",
		  "Copies not sent (no mbuf, shadow queue full); the original is never held back.",
		  offsetof(struct sl_shadow_counters, drops) },
		{ "sluice_shadow_pending_packets_total",
		  "Sampled packets not evaluated: the rule's filter was not compiled yet.",
		  offsetof(struct sl_shadow_counters, pending) },
	};
	const struct sl_shadows *sh = &x->st->shadows;
	struct sl_shadow_counters c[SL_MAX_SHADOWS];

	for (unsigned r = 0; r < sh->n && r < SL_MAX_SHADOWS; r++)
		if (sh->r[r].name[0])
			sl_daemon_shadow_counts(x->d, r, &c[r]);
	sl_prom_family(x->p, "sluice_shadow_sample_ratio", "gauge",
		       "Share of the service's flows the shadow rule samples (0..1).");
	for (unsigned r = 0; r < sh->n && r < SL_MAX_SHADOWS; r++)
		if (sh->r[r].name[0])
			sl_prom_f64(x->p, "sluice_shadow_sample_ratio",
				    LBL({ "rule", sh->r[r].name }, { "service", sh->r[r].service },
					{ "port", sh->r[r].port }),
				    sh->r[r].sample_bp / (double)SL_SHARE_MAX_BP);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		sl_prom_family(x->p, f[i].name, "counter", f[i].help);
		for (unsigned r = 0; r < sh->n && r < SL_MAX_SHADOWS; r++) {
			uint64_t v;

			if (!sh->r[r].name[0])
				continue;
			memcpy(&v, (const char *)&c[r] + f[i].off, sizeof(v));
			sl_prom_u64(x->p, f[i].name, LBL({ "rule", sh->r[r].name },
						       { "service", sh->r[r].service },
						       { "port", sh->r[r].port }), v);
		}
	}
}

/* ---- guards: the figures of sl_daemon_guards (what status shows) ---- */

static double jnum(const json_t *o, const char *path1, const char *path2)
{
	const json_t *v = json_object_get(o, path1);

	if (path2)
		v = json_object_get(v, path2);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Each guard of each service's rollout with its labels (service, guard,
 * signal, slice when it has one), and room for two more. */
static void guard_list(struct ctx *x)
{
	for (int s = 0; s < x->st->nservices; s++)
		for (size_t i = 0; x->guards[s] && i < json_array_size(x->guards[s]) &&
				   x->nguard < SL_MAX_SERVICES * SL_RO_MAX_GUARDS; i++) {
			const json_t *g = json_array_get(x->guards[s], i);
			struct guard_ent *e = &x->guard[x->nguard];
			const char *name = json_string_value(json_object_get(g, "name"));
			const char *sig = json_string_value(json_object_get(g, "signal"));
			const char *slice = json_string_value(json_object_get(g, "slice"));

			if (!name || !sig)
				continue;
			e->g = g;
			e->svc = s;
			e->n = 0;
			e->l[e->n++] = (struct sl_prom_label){ "service", svc_name(x, s) };
			e->l[e->n++] = (struct sl_prom_label){ "guard", name };
			e->l[e->n++] = (struct sl_prom_label){ "signal", sig };
			if (slice)
				e->l[e->n++] = (struct sl_prom_label){ "slice", slice };
			x->nguard++;
		}
}

static void guards(struct ctx *x)
{
	static const struct {
		const char *name, *help, *key;
	} one[] = {
		{ "sluice_guard_statistic",
		  "The guard's sequential test statistic (log E-value) in its window.",
		  "statistic" },
		{ "sluice_guard_threshold",
		  "The statistic at which the guard fails (log(1/alpha)).", "threshold" },
		{ "sluice_guard_window_seconds", "Age of the guard's window (its step's start).",
		  "window_s" },
		{ "sluice_guard_min_flows", "Flows each group needs before the guard passes.",
		  "min_flows" },
	}, per_role[] = {
		{ "sluice_guard_flows", "Flows of the group counted by the guard in its window.",
		  "flows" },
		{ "sluice_guard_bad_flows", "Bad flows of the group in the guard's window.",
		  "bad" },
	};

	sl_prom_family(x->p, "sluice_guard_verdict", "gauge",
		       "Verdict of the guard of a rollout (1 for the guard's verdict, 0 for the "
		       "others).");
	guard_list(x);
	for (unsigned j = 0; j < x->nguard; j++) {
		struct guard_ent *e = &x->guard[j];
		const char *v = json_string_value(json_object_get(e->g, "verdict"));

		for (int k = SL_GV_COLLECTING; k <= SL_GV_FAILED; k++) {
			const char *name = sl_guard_verdict_name((enum sl_guard_verdict)k);

			e->l[e->n] = (struct sl_prom_label){ "verdict", name };
			sl_prom_u64(x->p, "sluice_guard_verdict", e->l, e->n + 1,
				    v && !strcmp(v, name));
		}
	}
	for (size_t i = 0; i < sizeof(per_role) / sizeof(per_role[0]); i++) {
		sl_prom_family(x->p, per_role[i].name, "gauge", per_role[i].help);
		for (unsigned j = 0; j < x->nguard; j++)
			for (int r = 0; r < 2; r++) {
				struct guard_ent *e = &x->guard[j];
				const struct sl_svc_rec *sr = &x->st->svc[e->svc].st;
				double v = jnum(e->g, roles[r], per_role[i].key);

				/* the groups compared are the service's in force: a
				 * window ends when either changes */
				e->l[e->n] = (struct sl_prom_label){ "role", roles[r] };
				e->l[e->n + 1] = (struct sl_prom_label){ "group", r ? sr->challenger :
									  sr->champion };
				if (!isnan(v))
					sl_prom_f64(x->p, per_role[i].name, e->l, e->n + 2, v);
			}
	}
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		sl_prom_family(x->p, one[i].name, "gauge", one[i].help);
		for (unsigned j = 0; j < x->nguard; j++) {
			double v = jnum(x->guard[j].g, one[i].key, NULL);

			if (!isnan(v))
				sl_prom_f64(x->p, one[i].name, x->guard[j].l, x->guard[j].n, v);
		}
	}
}

/* ---- evidence: per service, per slice, pushed ---- */

static const struct field ev_counts[] = {
	{ "evidence_flows_total", "New flows decided for the role's group (exposures).",
	  offsetof(struct sl_ev_cell, flows) },
	{ "evidence_reset_flows_total", "Flows reset by the backend side.",
	  offsetof(struct sl_ev_cell, rst) },
	{ "evidence_icmp_flows_total", "Flows that got an ICMP unreachable from the backend side.",
	  offsetof(struct sl_ev_cell, icmp) },
	{ "evidence_ttfb_flows_total", "Flows whose time to first byte was measured.",
	  offsetof(struct sl_ev_cell, ttfb_flows) },
};

static const struct sl_ev_cell *ev_cell(const struct ctx *x, int slices, unsigned i, int role,
					struct sl_prom_label *l, unsigned *nl)
{
	const struct sl_slice_rec *sr;

	*nl = 0;
	if (!slices) {
		if (!svc_name(x, (int)i)[0])
			return NULL;
		l[(*nl)++] = (struct sl_prom_label){ "service", svc_name(x, (int)i) };
		l[(*nl)++] = (struct sl_prom_label){ "role", roles[role] };
		return &x->sum->ev.svc[i][role];
	}
	sr = &x->h->slices[i];
	if (!sr->name[0] || sr->service >= x->st->nservices)
		return NULL;
	l[(*nl)++] = (struct sl_prom_label){ "service", svc_name(x, sr->service) };
	l[(*nl)++] = (struct sl_prom_label){ "slice", sr->name };
	l[(*nl)++] = (struct sl_prom_label){ "role", roles[role] };
	return &x->sum->ev.slice[i][role];
}

static void evidence_scope(struct ctx *x, int slices)
{
	const char *prefix = slices ? "sluice_slice_" : "sluice_";
	unsigned n = slices ? (x->h->nslices < SL_MAX_SLICES ? x->h->nslices : SL_MAX_SLICES)
			    : x->st->nservices;
	const char *of = slices ? " (flows of the slice)" : "";
	struct sl_prom_label l[4];
	char name[96], help[256];
	unsigned nl;

	for (size_t f = 0; f < sizeof(ev_counts) / sizeof(ev_counts[0]); f++) {
		snprintf(name, sizeof(name), "%s%s", prefix, ev_counts[f].name);
		snprintf(help, sizeof(help), "%s%s", ev_counts[f].help, of);
		sl_prom_family(x->p, name, "counter", help);
		for (unsigned i = 0; i < n; i++)
			for (int r = 0; r < 2; r++) {
				const struct sl_ev_cell *c = ev_cell(x, slices, i, r, l, &nl);
				uint64_t v;

				if (!c)
					continue;
				memcpy(&v, (const char *)c + ev_counts[f].off, sizeof(v));
				sl_prom_u64(x->p, name, l, nl, v);
			}
	}
	snprintf(name, sizeof(name), "%sevidence_handshakes_total", prefix);
	snprintf(help, sizeof(help), "TCP handshakes ended: ok (SYN-ACK within "
		 "handshake_timeout) or failed%s.", of);
	sl_prom_family(x->p, name, "counter", help);
	for (unsigned i = 0; i < n; i++)
		for (int r = 0; r < 2; r++) {
			const struct sl_ev_cell *c = ev_cell(x, slices, i, r, l, &nl);

			if (!c)
				continue;
			l[nl] = (struct sl_prom_label){ "result", "ok" };
			sl_prom_u64(x->p, name, l, nl + 1, c->hs_ok);
			l[nl] = (struct sl_prom_label){ "result", "failed" };
			sl_prom_u64(x->p, name, l, nl + 1, c->hs_fail);
		}
	for (int which = 0; which < 2; which++) {
		snprintf(name, sizeof(name), "%sevidence_%s_seconds", prefix,
			 which ? "ttfb" : "handshake");
		snprintf(help, sizeof(help), "%s%s (no _sum: the dataplane counts buckets only).",
			 which ? "Client's first data to server's first data" :
			 "SYN to SYN-ACK, the first SYN to be answered", of);
		sl_prom_family(x->p, name, "histogram", help);
		for (unsigned i = 0; i < n; i++)
			for (int r = 0; r < 2; r++) {
				const struct sl_ev_cell *c = ev_cell(x, slices, i, r, l, &nl);

				if (c)
					sl_prom_hist_us(x->p, name, l, nl,
							which ? c->ttfb_us : c->hs_us, NULL);
			}
	}
}

static void pushed(struct ctx *x)
{
	const struct sl_pushed *p = x->d->pushed;

	for (int bad = 0; bad < 2; bad++) {
		const char *name = bad ? "sluice_evidence_pushed_bad_total" :
					 "sluice_evidence_pushed_total";

		sl_prom_family(x->p, name, "counter", bad ?
			       "Bad events pushed by `sluicectl evidence push` (--bad)." :
			       "Events pushed by `sluicectl evidence push` (--total).");
		for (uint32_t i = 0; p && i < p->n && i < SL_MAX_PUSHED; i++)
			for (int r = 0; r < 2; r++) {
				const struct sl_pushed_ent *e = &p->e[i];
				struct sl_prom_label l[4] = {
					{ "service", e->service }, { "signal", e->signal },
					{ "role", roles[r] }, { "slice", e->slice },
				};

				sl_prom_u64(x->p, name, l, e->slice[0] ? 4 : 3,
					    bad ? e->bad[r] : e->total[r]);
			}
	}
}

char *sl_metrics_render(struct sl_daemon *d, size_t *len)
{
	struct sl_counters *sum = malloc(sizeof(*sum));
	struct guard_ent *guard = calloc(SL_MAX_SERVICES * SL_RO_MAX_GUARDS, sizeof(*guard));
	struct sl_prom p = { 0 };
	struct ctx x;

	if (!sum || !guard) {
		free(sum);
		free(guard);
		return NULL;
	}
	memset(&x, 0, sizeof(x));
	x.guard = guard;
	x.p = &p;
	x.d = d;
	x.st = d->st;
	x.h = d->st->base;
	x.sum = sum;
	x.nw = sl_daemon_counters(d, sum);
	x.now = d->virtual_clock ? d->clock_ms : sl_now_ms();
	for (int s = 0; s < x.st->nservices; s++)
		if (svc_name(&x, s)[0] && x.st->svc[s].ro.nguards)
			x.guards[s] = sl_daemon_guards(d, s, x.now);
	build_info(&x);
	services(&x);
	groups(&x);
	rollouts(&x);
	acks(&x);
	ports(&x);
	packets(&x);
	shadows(&x);
	guards(&x);
	evidence_scope(&x, 0);
	evidence_scope(&x, 1);
	pushed(&x);
	for (int s = 0; s < x.st->nservices; s++)
		json_decref(x.guards[s]);
	free(guard);
	free(sum);
	if (p.oom || !p.buf) {
		sl_prom_free(&p);
		return NULL;
	}
	*len = p.len;
	return p.buf;
}

/* ---- HTTP ---- */

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text,
				  const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text),
								 (void *)(uintptr_t)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	static int seen;
	struct sl_metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;
	size_t len;
	char *body;

	(void)version;
	(void)upload;
	/* the first call has the headers only: a body (there should be none)
	 * comes in the next calls and is discarded */
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		m->refused++;
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "sluiced's metrics endpoint is read-only: GET /metrics\n",
				  "GET, HEAD");
	}
	if (strcmp(url, "/metrics")) {
		m->refused++;
		return reply_text(c, MHD_HTTP_NOT_FOUND,
				  "not found: sluiced serves Prometheus metrics on /metrics only\n",
				  NULL);
	}
	body = sl_metrics_render(m->d, &len);
	if (!body)
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "sluiced: out of memory for the metrics\n", NULL);
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	m->scrapes++;
	return rc;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct sl_metrics *m = cls;
	char text[512];
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	while (n && text[n - 1] == '\n')
		text[--n] = 0;
	sl_log("metrics %s: %s", m->addr, text);
}

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104 */
static int loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

int sl_metrics_listen(struct sl_metrics *m, const char *addr, struct sl_daemon *d, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	char why[SL_ERR_LEN];
	unsigned len, flags;
	uint16_t port;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->d = d;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	if (sl_listen_addr_parse(addr, &ss, &len, why, sizeof(why)))
		return sl_seterr(err, errlen, "metrics: %s", why);
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
			       ((struct sockaddr_in *)&ss)->sin_port);
	/* No thread of MHD's own: its epoll descriptor is polled by sluiced's
	 * event loop and MHD_run answers from it, so a scrape reads the
	 * daemon's state with nothing changing it (no lock needed, and the
	 * workers are never involved). */
	flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* the logger first: MHD logs the options after it through it; no
	 * LISTENING_ADDRESS_REUSE (SO_REUSEPORT would let a second sluiced
	 * share the port and answer half of the scrapes) */
	m->mhd = MHD_start_daemon(flags, port, NULL, NULL, answer, m,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
				  MHD_OPTION_END);
	(void)len;
	if (!m->mhd)
		return sl_seterr(err, errlen, "metrics %s ([control] metrics): cannot listen "
				 "(the port in use, or the address not on this host: see the "
				 "line above)", addr);
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(m->mhd);
		m->mhd = NULL;
		return sl_seterr(err, errlen, "metrics %s: libmicrohttpd has no epoll descriptor",
				 addr);
	}
	m->fd = info->epoll_fd;
	if (!loopback(&ss))
		sl_log("warning: metrics %s is not a loopback address: whoever reaches it reads "
		       "every figure (the endpoint has no authentication)", addr);
	return 0;
}

int sl_metrics_fd(const struct sl_metrics *m)
{
	return m->mhd ? m->fd : -1;
}

uint64_t sl_metrics_timeout_ms(const struct sl_metrics *m)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!m->mhd || MHD_get_timeout(m->mhd, &t) != MHD_YES)
		return UINT64_MAX;
	return (uint64_t)t;
}

void sl_metrics_run(struct sl_metrics *m)
{
	if (m->mhd)
		MHD_run(m->mhd);
}

void sl_metrics_close(struct sl_metrics *m)
{
	if (!m->mhd)
		return;
	if (m->scrapes || m->refused)
		sl_log("metrics %s: %llu scrape%s served, %llu other request%s refused", m->addr,
		       (unsigned long long)m->scrapes, m->scrapes == 1 ? "" : "s",
		       (unsigned long long)m->refused, m->refused == 1 ? "" : "s");
	MHD_stop_daemon(m->mhd);
	m->mhd = NULL;
	m->fd = -1;
}
