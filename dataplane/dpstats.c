/* sluice-dp's end of run report (human summary, --stats JSON). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "dpstats.h"
#include "parse.h"

static const char *group_name(const struct sl_dp_report *r, unsigned g)
{
	if (r->view && r->view->groups && r->view->groups[g].name[0])
		return r->view->groups[g].name;
	if (g < r->cfg->ngroups)
		return r->cfg->groups[g].name;
	return "?";
}

static unsigned nservices(const struct sl_dp_report *r)
{
	return r->view && r->view->hdr ? r->view->hdr->nservices : 0;
}

static unsigned ngroups(const struct sl_dp_report *r)
{
	unsigned n = r->view && r->view->hdr ? r->view->hdr->ngroups : r->cfg->ngroups;

	return n > SL_MAX_GROUPS ? SL_MAX_GROUPS : n;
}

static int grp_used(const struct sl_grp_counters *g)
{
	return g->pkts || g->flows || g->active || g->ret_pkts || g->ret_rst || g->ret_synack;
}

/* A service's groups: champion, challenger, and any other that saw traffic. */
static int svc_has_group(const struct sl_dp_report *r, unsigned s, unsigned g)
{
	const struct sl_service_rec *rec = &r->view->hdr->services[s];

	return g == rec->champion || g == rec->challenger || grp_used(&r->sum->grp[s][g]);
}

static uint64_t svc_flows(const struct sl_dp_report *r, unsigned s)
{
	uint64_t n = 0;

	for (unsigned g = 0; g < SL_MAX_GROUPS; g++)
		n += r->sum->grp[s][g].flows;
	return n;
}

static uint64_t measured_bp(const struct sl_dp_report *r, unsigned s)
{
	uint64_t all = svc_flows(r, s);
	unsigned ch = r->view->hdr->services[s].challenger;

	if (all == 0 || ch >= SL_MAX_GROUPS)
		return 0;
	return r->sum->grp[s][ch].flows * SL_SHARE_MAX_BP / all;
}

static uint64_t total(const uint64_t *v, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += v[i];
	return t;
}

/* json_object_set_new that remembers a failure. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		*bad = 1;
}

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *ports_json(const struct sl_dp_report *r, int *bad)
{
	const struct sl_config *cfg = r->cfg;
	json_t *ports = json_object();

	if (!ports)
		return NULL;
	for (unsigned p = 0; p < cfg->nports; p++) {
		json_t *o = json_object();

		if (!o) {
			*bad = 1;
			break;
		}
		put(o, "role", json_string(sl_role_name(cfg->ports[p].role)), bad);
		put(o, "rx", u64(r->sum->port_rx[p]), bad);
		put(o, "tx", u64(r->sum->port_tx[p]), bad);
		put(o, "drops", u64(r->sum->port_drop[p]), bad);
		put(o, "rx_missed", u64(r->rx_missed[p]), bad);
		put(o, "tx_errors", u64(r->tx_errors[p]), bad);
		put(ports, cfg->ports[p].name, o, bad);
	}
	return ports;
}

static json_t *group_json(const struct sl_grp_counters *g, int *bad)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(o, "packets", u64(g->pkts), bad);
	put(o, "bytes", u64(g->bytes), bad);
	put(o, "flows", u64(g->flows), bad);
	put(o, "active", u64(g->active), bad);
	put(o, "return_packets", u64(g->ret_pkts), bad);
	put(o, "return_bytes", u64(g->ret_bytes), bad);
	put(o, "return_rst", u64(g->ret_rst), bad);
	put(o, "return_synack", u64(g->ret_synack), bad);
	return o;
}

/* A percentile of a histogram (sl_hist_pct), null when it is empty. */
static json_t *pct_json(const uint64_t *h, unsigned pct)
{
	int64_t v = sl_hist_pct(h, pct);

	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

static json_t *ev_json(const struct sl_ev_cell *c, int *bad)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(o, "flows", u64(c->flows), bad);
	put(o, "hs_ok", u64(c->hs_ok), bad);
	put(o, "hs_fail", u64(c->hs_fail), bad);
	put(o, "rst", u64(c->rst), bad);
	put(o, "icmp", u64(c->icmp), bad);
	put(o, "ttfb_flows", u64(c->ttfb_flows), bad);
	put(o, "hs_p50_us", pct_json(c->hs_us, 50), bad);
	put(o, "hs_p99_us", pct_json(c->hs_us, 99), bad);
	put(o, "ttfb_p50_us", pct_json(c->ttfb_us, 50), bad);
	put(o, "ttfb_p99_us", pct_json(c->ttfb_us, 99), bad);
	return o;
}

/* Evidence of service s per role, and per slice of the service: counts
 * and the p50/p99 of the histograms (the histograms stay in the stats
 * map). */
static json_t *evidence_json(const struct sl_dp_report *r, unsigned s, int *bad)
{
	const struct sl_table_hdr *h = r->view->hdr;
	const struct sl_evidence *ev = &r->sum->ev;
	json_t *o = json_object(), *sl = json_object();
	unsigned n = h->nslices < SL_MAX_SLICES ? h->nslices : SL_MAX_SLICES;

	if (!o || !sl) {
		json_decref(o);
		json_decref(sl);
		*bad = 1;
		return NULL;
	}
	put(o, "champion", ev_json(&ev->svc[s][SL_EV_CHAMPION], bad), bad);
	put(o, "challenger", ev_json(&ev->svc[s][SL_EV_CHALLENGER], bad), bad);
	for (unsigned k = 0; k < n; k++) {
		const struct sl_slice_rec *sr = &h->slices[k];
		char name[SL_NAME_LEN];
		json_t *x;

		if (!sr->name[0] || sr->service != s)
			continue;
		snprintf(name, sizeof(name), "%.*s", SL_NAME_LEN - 1, sr->name);
		x = json_object();
		if (!x) {
			*bad = 1;
			continue;
		}
		put(x, "champion", ev_json(&ev->slice[k][SL_EV_CHAMPION], bad), bad);
		put(x, "challenger", ev_json(&ev->slice[k][SL_EV_CHALLENGER], bad), bad);
		put(sl, name, x, bad);
	}
	put(o, "slices", sl, bad);
	return o;
}

static json_t *services_json(const struct sl_dp_report *r, int *bad)
{
	json_t *svcs = json_object();

	if (!svcs)
		return NULL;
	for (unsigned s = 0; s < nservices(r); s++) {
		const struct sl_service_rec *rec = &r->view->hdr->services[s];
		json_t *o = json_object(), *groups = json_object();

		if (!o || !groups) {
			json_decref(o);
			json_decref(groups);
			*bad = 1;
			break;
		}
		put(o, "share_bp", u64(rec->share_bp), bad);
		put(o, "champion", json_string(group_name(r, rec->champion)), bad);
		put(o, "challenger", json_string(group_name(r, rec->challenger)), bad);
		for (unsigned g = 0; g < ngroups(r); g++)
			if (svc_has_group(r, s, g))
				put(groups, group_name(r, g), group_json(&r->sum->grp[s][g], bad),
				    bad);
		put(o, "groups", groups, bad);
		put(o, "measured_share_bp", u64(measured_bp(r, s)), bad);
		put(o, "packets", u64(sl_svc_pkts(r->sum, s)), bad);
		put(o, "evidence", evidence_json(r, s, bad), bad);
		put(svcs, rec->name, o, bad);
	}
	return svcs;
}

static unsigned nshadows(const struct sl_dp_report *r)
{
	unsigned n = r->view && r->view->hdr ? r->view->hdr->nshadows : 0;

	return n > SL_MAX_SHADOWS ? SL_MAX_SHADOWS : n;
}

static const char *port_name(const struct sl_dp_report *r, unsigned p)
{
	return p < r->cfg->nports ? r->cfg->ports[p].name : "?";
}

static const char *service_name(const struct sl_dp_report *r, unsigned s)
{
	return s < nservices(r) ? r->view->hdr->services[s].name : "?";
}

/* Rules of the tables in force, by name, with their counters. */
static json_t *shadows_json(const struct sl_dp_report *r, int *bad)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (unsigned i = 0; i < nshadows(r); i++) {
		const struct sl_shadow_rec *sr = &r->view->hdr->shadows[i];
		const struct sl_shadow_counters *c = &r->sum->shadow[i];
		json_t *x;

		if (!sr->name[0])
			continue;
		x = json_object();
		if (!x) {
			*bad = 1;
			break;
		}
		put(x, "service", json_string(service_name(r, sr->service)), bad);
		put(x, "port", json_string(port_name(r, sr->port)), bad);
		put(x, "sample_bp", u64(sr->sample_bp), bad);
		put(x, "filter", json_stringn(sr->filter, strnlen(sr->filter, SL_FILTER_LEN)), bad);
		put(x, "flows", u64(c->flows), bad);
		put(x, "packets", u64(c->pkts), bad);
		put(x, "dropped", u64(c->drops), bad);
		put(x, "pending", u64(c->pending), bad);
		put(o, sr->name, x, bad);
	}
	return o;
}

static json_t *malformed_json(const struct sl_dp_report *r, int *bad)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	for (unsigned i = 1; i < SL_BAD__COUNT; i++)
		if (r->sum->malformed[i])
			put(o, sl_bad_name((enum sl_bad)i), u64(r->sum->malformed[i]), bad);
	put(o, "total", u64(sl_malformed_total(r->sum)), bad);
	return o;
}

static json_t *flowtable_json(const struct sl_dp_report *r, int *bad)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	put(o, "capacity", u64(r->ft_capacity), bad);
	put(o, "bytes", u64(r->ft_bytes), bad);
	put(o, "bytes_per_flow",
	    json_real(r->ft_capacity ? (double)r->ft_bytes / (double)r->ft_capacity : 0.0), bad);
	put(o, "full_fallback", u64(r->sum->ft_full), bad);
	put(o, "expired", u64(r->sum->expired), bad);
	put(o, "redecided", u64(r->sum->redecided), bad);
	put(o, "return_untracked", u64(r->sum->ret_untracked), bad);
	return o;
}

json_t *sl_dp_stats_json(const struct sl_dp_report *r)
{
	const struct sl_counters *c = r->sum;
	unsigned np = r->cfg->nports;
	json_t *root = json_object();
	int bad = 0;

	if (!root)
		return NULL;
	put(root, "elapsed_s", json_real(r->elapsed_s), &bad);
	put(root, "rx_packets", u64(total(c->port_rx, np)), &bad);
	put(root, "tx_packets", u64(total(c->port_tx, np)), &bad);
	put(root, "pps", json_real(r->pps), &bad);
	put(root, "workers", u64(r->nworkers), &bad);
	if (r->worker_rx) {
		json_t *a = json_array();

		for (unsigned i = 0; a && i < r->nworkers; i++)
			if (json_array_append_new(a, u64(r->worker_rx[i])) != 0)
				bad = 1;
		put(root, "worker_rx", a, &bad);
	}
	put(root, "ports", ports_json(r, &bad), &bad);
	put(root, "services", services_json(r, &bad), &bad);
	put(root, "shadows", shadows_json(r, &bad), &bad);
	put(root, "malformed", malformed_json(r, &bad), &bad);
	put(root, "malformed_forwarded", u64(c->malformed_fwd), &bad);
	put(root, "malformed_dropped", u64(c->malformed_drop), &bad);
	put(root, "other_forwarded", u64(c->other_fwd), &bad);
	put(root, "other_dropped", u64(c->other_drop), &bad);
	put(root, "shadow_rx_dropped", u64(c->shadow_rx_drop), &bad);
	put(root, "flow_table", flowtable_json(r, &bad), &bad);
	if (bad) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int sl_dp_stats_write(const struct sl_dp_report *r, const char *path, char *err, size_t errlen)
{
	json_t *root = sl_dp_stats_json(r);
	FILE *f;
	int rc;

	if (!root) {
		snprintf(err, errlen, "--stats %s: out of memory building the JSON", path);
		return -1;
	}
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, errlen, "--stats %s: cannot open for writing: %s", path,
			 strerror(errno));
		json_decref(root);
		return -1;
	}
	rc = json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (rc == 0 && fputc('\n', f) == EOF)
		rc = -1;
	if (ferror(f))
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc != 0) {
		snprintf(err, errlen, "--stats %s: write failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void sl_dp_summary(const struct sl_dp_report *r, FILE *f)
{
	const struct sl_config *cfg = r->cfg;
	const struct sl_counters *c = r->sum;

	fprintf(f, "sluice-dp: %.3f s, %u worker%s, rx %" PRIu64 " tx %" PRIu64
		" packets, %.0f pps%s%s\n", r->elapsed_s, r->nworkers, r->nworkers == 1 ? "" : "s",
		total(c->port_rx, cfg->nports), total(c->port_tx, cfg->nports), r->pps,
		r->stop_reason ? ", stopped: " : "", r->stop_reason ? r->stop_reason : "");
	if (r->worker_rx && r->nworkers > 1) {
		fprintf(f, "  received per worker:");
		for (unsigned i = 0; i < r->nworkers; i++)
			fprintf(f, " %" PRIu64, r->worker_rx[i]);
		fprintf(f, "\n");
	}
	for (unsigned p = 0; p < cfg->nports; p++)
		fprintf(f, "  port %-12s %-7s rx %" PRIu64 " tx %" PRIu64 " drops %" PRIu64
			" rx_missed %" PRIu64 " tx_errors %" PRIu64 "\n", cfg->ports[p].name,
			sl_role_name(cfg->ports[p].role), c->port_rx[p], c->port_tx[p],
			c->port_drop[p], r->rx_missed[p], r->tx_errors[p]);
	for (unsigned s = 0; s < nservices(r); s++) {
		const struct sl_service_rec *rec = &r->view->hdr->services[s];
		uint64_t m = measured_bp(r, s);

		fprintf(f, "  service %s: %" PRIu64 " packets, champion %s, challenger %s, share "
			"%u.%02u%% configured, %" PRIu64 ".%02" PRIu64 "%% of flows measured\n",
			rec->name, sl_svc_pkts(c, s), group_name(r, rec->champion),
			group_name(r, rec->challenger), rec->share_bp / 100, rec->share_bp % 100,
			m / 100, m % 100);
		for (unsigned g = 0; g < ngroups(r); g++) {
			const struct sl_grp_counters *gc = &c->grp[s][g];

			if (!svc_has_group(r, s, g))
				continue;
			fprintf(f, "    group %-10s packets %" PRIu64 " flows %" PRIu64 " active %"
				PRIu64 " return %" PRIu64 " (rst %" PRIu64 ", syn-ack %" PRIu64
				")\n", group_name(r, g), gc->pkts, gc->flows, gc->active,
				gc->ret_pkts, gc->ret_rst, gc->ret_synack);
		}
	}
	for (unsigned i = 0; i < nshadows(r); i++) {
		const struct sl_shadow_rec *sr = &r->view->hdr->shadows[i];
		const struct sl_shadow_counters *sc = &c->shadow[i];

		if (!sr->name[0])
			continue;
		fprintf(f, "  shadow %.*s: %u.%02u%% of %s's flows%s%.*s%s -> port %s: flows %"
			PRIu64 " packets %" PRIu64 " dropped %" PRIu64 " pending %" PRIu64 "\n",
			SL_NAME_LEN, sr->name, sr->sample_bp / 100, sr->sample_bp % 100,
			service_name(r, sr->service), sr->filter[0] ? " matching '" : "",
			SL_FILTER_LEN, sr->filter, sr->filter[0] ? "'" : "", port_name(r, sr->port),
			sc->flows, sc->pkts, sc->drops, sc->pending);
	}
	fprintf(f, "  malformed %" PRIu64, sl_malformed_total(c));
	for (unsigned i = 1; i < SL_BAD__COUNT; i++)
		if (c->malformed[i])
			fprintf(f, " %s=%" PRIu64, sl_bad_name((enum sl_bad)i), c->malformed[i]);
	fprintf(f, " (forwarded %" PRIu64 ", dropped %" PRIu64 "); other forwarded %" PRIu64
		", dropped %" PRIu64 "; shadow rx dropped %" PRIu64 "\n", c->malformed_fwd,
		c->malformed_drop, c->other_fwd, c->other_drop, c->shadow_rx_drop);
	fprintf(f, "  flow table: capacity %" PRIu64 ", %" PRIu64 " bytes, full fallback %"
		PRIu64 ", expired %" PRIu64 ", redecided %" PRIu64 ", return untracked %"
		PRIu64 "\n", r->ft_capacity, r->ft_bytes, c->ft_full, c->expired, c->redecided,
		c->ret_untracked);
}
