/* sluice-replay's report (see replay_report.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"
#include "replay_report.h"
#include "stats.h"

int rp_report_init(struct rp_report *r, const struct sl_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->prev = calloc(1, sizeof(*r->prev));
	return r->prev ? 0 : -1;
}

void rp_report_free(struct rp_report *r)
{
	for (unsigned i = 0; i < r->nactions; i++) {
		free(r->actions[i].command);
		free(r->actions[i].message);
	}
	for (unsigned i = 0; i < r->nslices; i++) {
		for (unsigned k = 0; r->slices[i].svc && k < r->cfg->nservices; k++)
			json_decref(r->slices[i].svc[k].guards);
		free(r->slices[i].svc);
	}
	free(r->actions);
	free(r->slices);
	free(r->prev);
	memset(r, 0, sizeof(*r));
}

struct rp_action *rp_action_add(struct rp_report *r, int by_plan, unsigned line,
				uint64_t at_ms, const char *command)
{
	struct rp_action *a;

	if (r->nactions == r->acap) {
		unsigned cap = r->acap ? r->acap * 2 : 16;
		struct rp_action *na = realloc(r->actions, cap * sizeof(*na));

		if (!na)
			return NULL;
		r->actions = na;
		r->acap = cap;
	}
	a = &r->actions[r->nactions];
	memset(a, 0, sizeof(*a));
	a->command = strdup(command);
	if (!a->command)
		return NULL;
	a->by_plan = by_plan;
	a->line = line;
	a->at_ms = at_ms;
	r->nactions++;
	return a;
}

static void ev_delta(struct rp_ev *o, const struct sl_ev_cell *a, const struct sl_ev_cell *b)
{
	o->flows = a->flows - b->flows;
	o->hs_ok = a->hs_ok - b->hs_ok;
	o->hs_fail = a->hs_fail - b->hs_fail;
	o->rst = a->rst - b->rst;
	o->icmp = a->icmp - b->icmp;
	o->ttfb_flows = a->ttfb_flows - b->ttfb_flows;
}

/* Counters of the open slice from r->prev to now; active flows as now. */
static void slice_fill(struct rp_report *r, struct rp_slice *s, const struct sl_counters *now)
{
	const struct sl_counters *p = r->prev;

	for (unsigned i = 0; i < r->cfg->nservices; i++) {
		for (unsigned role = 0; role < 2; role++)
			ev_delta(&s->svc[i].ev[role], &now->ev.svc[i][role], &p->ev.svc[i][role]);
		for (unsigned g = 0; g < r->cfg->ngroups; g++) {
			const struct sl_grp_counters *a = &now->grp[i][g], *b = &p->grp[i][g];
			struct rp_grp *o = &s->svc[i].g[g];

			o->pkts = a->pkts - b->pkts;
			o->bytes = a->bytes - b->bytes;
			o->flows = a->flows - b->flows;
			o->active = a->active;
			o->ret_pkts = a->ret_pkts - b->ret_pkts;
			o->ret_bytes = a->ret_bytes - b->ret_bytes;
		}
	}
	for (unsigned k = 0; k < s->nrules; k++) {
		struct rp_rule_slice *rs = &s->rule[k];

		rs->flows = now->shadow[k].flows - p->shadow[k].flows;
		rs->pkts = now->shadow[k].pkts - p->shadow[k].pkts;
		rs->drops = now->shadow[k].drops - p->shadow[k].drops;
		rs->pending = now->shadow[k].pending - p->shadow[k].pending;
		rs->service_flows = 0;
		if (rs->service < r->cfg->nservices)
			for (unsigned g = 0; g < r->cfg->ngroups; g++)
				rs->service_flows += s->svc[rs->service].g[g].flows;
	}
}

int rp_slice_begin(struct rp_report *r, uint64_t at_ns, uint64_t first_pkt,
		   const struct sl_counters *now)
{
	struct rp_slice *s = rp_slice_cur(r);

	if (s && s->packets == 0)
		return 0;
	if (s) {
		s->to_ns = at_ns;
		slice_fill(r, s, now);
	}
	if (r->nslices == r->scap) {
		unsigned cap = r->scap ? r->scap * 2 : 16;
		struct rp_slice *ns = realloc(r->slices, cap * sizeof(*ns));

		if (!ns)
			return -1;
		r->slices = ns;
		r->scap = cap;
	}
	s = &r->slices[r->nslices];
	memset(s, 0, sizeof(*s));
	s->svc = calloc(r->cfg->nservices ? r->cfg->nservices : 1, sizeof(*s->svc));
	if (!s->svc)
		return -1;
	s->from_ns = at_ns;
	s->first_pkt = first_pkt;
	s->action0 = r->nactions;
	r->nslices++;
	memcpy(r->prev, now, sizeof(*now));
	return 0;
}

void rp_slice_table(struct rp_report *r, const struct sl_view *v)
{
	struct rp_slice *s = rp_slice_cur(r);
	const struct sl_table_hdr *h = v->hdr;

	if (!s)
		return;
	s->gen = h->gen;
	for (unsigned i = 0; i < r->cfg->nservices && i < h->nservices; i++) {
		s->svc[i].champion = h->services[i].champion;
		s->svc[i].challenger = h->services[i].challenger;
		s->svc[i].share_bp = h->services[i].share_bp;
	}
	s->nrules = h->nshadows < SL_MAX_SHADOWS ? h->nshadows : SL_MAX_SHADOWS;
	for (unsigned k = 0; k < s->nrules; k++) {
		const struct sl_shadow_rec *sr = &h->shadows[k];
		struct rp_rule_slice *rs = &s->rule[k];

		snprintf(rs->name, sizeof(rs->name), "%.*s", SL_NAME_LEN - 1, sr->name);
		snprintf(rs->filter, sizeof(rs->filter), "%.*s", SL_FILTER_LEN - 1, sr->filter);
		rs->service = sr->service;
		rs->port = sr->port;
		rs->sample_bp = sr->sample_bp;
	}
}

void rp_slice_action(struct rp_report *r, unsigned a)
{
	struct rp_slice *s = rp_slice_cur(r);

	if (!s)
		return;
	if (s->nactions == 0)
		s->action0 = a;
	s->nactions = a + 1 - s->action0;
}

void rp_slice_close(struct rp_report *r, uint64_t to_ns, const struct sl_counters *now)
{
	struct rp_slice *s = rp_slice_cur(r);

	if (!s)
		return;
	s->to_ns = to_ns;
	slice_fill(r, s, now);
}

/* ---- JSON ---- */

static const char *status_name(enum rp_status s)
{
	switch (s) {
	case RP_CHANGED:
		return "changed";
	case RP_UNCHANGED:
		return "unchanged";
	case RP_REFUSED:
		return "refused";
	default:
		return "not_reached";
	}
}

static void time_text(char *buf, size_t len, uint64_t ns, int nano)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	char day[32];

	gmtime_r(&sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	if (nano)
		snprintf(buf, len, "%s.%09uZ", day, (unsigned)(ns % 1000000000u));
	else
		snprintf(buf, len, "%s.%06uZ", day, (unsigned)(ns % 1000000000u / 1000u));
}

/* challenger / (champion + challenger) new flows, in bp; -1 if none. */
static int measured_bp(const struct rp_svc_slice *ss)
{
	uint64_t c = ss->g[ss->challenger].flows, t = c + ss->g[ss->champion].flows;

	if (ss->champion == ss->challenger)
		t = c;
	if (t == 0)
		return -1;
	return (int)((c * 10000u + t / 2) / t);
}

static json_t *share_json(int bp)
{
	return bp < 0 ? json_null() : json_integer(bp);
}

static json_t *grp_json(const struct rp_grp *g)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "packets", (json_int_t)g->pkts,
			 "bytes", (json_int_t)g->bytes, "new_flows", (json_int_t)g->flows,
			 "active_flows", (json_int_t)g->active, "return_packets",
			 (json_int_t)g->ret_pkts, "return_bytes", (json_int_t)g->ret_bytes);
}

/* Groups a service had or counted something for: its two groups of the
 * configuration first, then others in index order. */
static int group_shown(const struct rp_report *r, unsigned svc, unsigned g,
		       const struct rp_grp *sum)
{
	const struct sl_cfg_service *cs = &r->cfg->services[svc];

	return g == cs->champion || g == cs->challenger || sum->pkts || sum->flows ||
	       sum->ret_pkts || sum->active;
}

static json_t *ev_counts_json(const struct rp_ev *e)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "flows", (json_int_t)e->flows,
			 "hs_ok", (json_int_t)e->hs_ok, "hs_fail", (json_int_t)e->hs_fail,
			 "rst", (json_int_t)e->rst, "icmp", (json_int_t)e->icmp, "ttfb_flows",
			 (json_int_t)e->ttfb_flows);
}

static json_t *pct_json(const uint64_t *h, unsigned pct)
{
	int64_t v = sl_hist_pct(h, pct);

	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/* One role's cell over the whole run, group: the group in that role at the
 * end (a role follows the table in force at each event). */
static json_t *ev_cell_json(const struct sl_ev_cell *c, const char *group)
{
	struct rp_ev e = { c->flows, c->hs_ok, c->hs_fail, c->rst, c->icmp, c->ttfb_flows };
	json_t *o = ev_counts_json(&e);

	json_object_set_new(o, "group", json_string(group));
	json_object_set_new(o, "hs_p50_us", pct_json(c->hs_us, 50));
	json_object_set_new(o, "hs_p99_us", pct_json(c->hs_us, 99));
	json_object_set_new(o, "ttfb_p50_us", pct_json(c->ttfb_us, 50));
	json_object_set_new(o, "ttfb_p99_us", pct_json(c->ttfb_us, 99));
	return o;
}

/* The last slice's roles of service i (the configuration's before any). */
static void roles_at_end(const struct rp_report *r, unsigned i, const char **champ,
			 const char **chall)
{
	const struct sl_config *cfg = r->cfg;
	unsigned a = cfg->services[i].champion, b = cfg->services[i].challenger;

	if (r->nslices) {
		a = r->slices[r->nslices - 1].svc[i].champion;
		b = r->slices[r->nslices - 1].svc[i].challenger;
	}
	*champ = a < cfg->ngroups ? cfg->groups[a].name : "?";
	*chall = b < cfg->ngroups ? cfg->groups[b].name : "?";
}

/* Evidence of service i over the run: per role, and per slice of the
 * service's flows ([slice NAME]: table slot k is the configuration's k). */
static json_t *evidence_json(const struct rp_report *r, unsigned i)
{
	const struct sl_config *cfg = r->cfg;
	const struct sl_evidence *ev = &r->total->ev;
	const char *ga, *gb;
	json_t *sl = json_object();

	roles_at_end(r, i, &ga, &gb);
	for (unsigned k = 0; k < cfg->nslices && k < SL_MAX_SLICES; k++) {
		const struct sl_ev_cell *c = ev->slice[k];

		if (cfg->slices[k].name[0] && cfg->slices[k].service == i)
			json_object_set_new(sl, cfg->slices[k].name,
					    json_pack("{s:o, s:o}",
						      "champion", ev_cell_json(&c[0], ga),
						      "challenger", ev_cell_json(&c[1], gb)));
	}
	return json_pack("{s:o, s:o, s:o}", "champion",
			 ev_cell_json(&ev->svc[i][SL_EV_CHAMPION], ga), "challenger",
			 ev_cell_json(&ev->svc[i][SL_EV_CHALLENGER], gb), "slices", sl);
}

static json_t *slice_json(const struct rp_report *r, unsigned k)
{
	const struct rp_slice *s = &r->slices[k];
	const struct sl_config *cfg = r->cfg;
	json_t *svcs = json_object(), *acts = json_array(), *rules = json_object();

	for (unsigned a = 0; a < s->nactions; a++)
		json_array_append_new(acts, json_integer(s->action0 + a));
	for (unsigned i = 0; i < cfg->nservices; i++) {
		const struct rp_svc_slice *ss = &s->svc[i];
		json_t *groups = json_object();
		uint64_t flows = 0;

		for (unsigned g = 0; g < cfg->ngroups; g++) {
			flows += ss->g[g].flows;
			if (group_shown(r, i, g, &ss->g[g]))
				json_object_set_new(groups, cfg->groups[g].name,
						    grp_json(&ss->g[g]));
		}
		json_object_set_new(svcs, cfg->services[i].name,
				    json_pack("{s:s, s:s, s:i, s:o, s:I, s:I, s:I, s:o, "
					      "s:{s:o, s:o}}",
					      "champion", cfg->groups[ss->champion].name,
					      "challenger", cfg->groups[ss->challenger].name,
					      "configured_share_bp", (int)ss->share_bp,
					      "measured_share_bp", share_json(measured_bp(ss)),
					      "new_flows", (json_int_t)flows,
					      "changed_group", (json_int_t)ss->changed,
					      "reset_broken", (json_int_t)ss->broken,
					      "groups", groups, "evidence",
					      "champion", ev_counts_json(&ss->ev[SL_EV_CHAMPION]),
					      "challenger",
					      ev_counts_json(&ss->ev[SL_EV_CHALLENGER])));
		if (ss->guards)
			json_object_set(json_object_get(svcs, cfg->services[i].name), "guards",
					ss->guards);
	}
	for (unsigned q = 0; q < s->nrules; q++) {
		const struct rp_rule_slice *rs = &s->rule[q];

		if (!rs->name[0])
			continue;
		json_object_set_new(rules, rs->name,
				    json_pack("{s:I, s:I, s:I, s:I, s:I}",
					      "flows", (json_int_t)rs->flows,
					      "packets", (json_int_t)rs->pkts,
					      "dropped", (json_int_t)rs->drops,
					      "pending", (json_int_t)rs->pending,
					      "service_flows", (json_int_t)rs->service_flows));
	}
	return json_pack("{s:i, s:I, s:I, s:I, s:I, s:i, s:o, s:o, s:o}", "index", (int)k,
			 "from_ms", (json_int_t)(s->from_ns / 1000000u),
			 "to_ms", (json_int_t)(s->to_ns / 1000000u),
			 "first_packet", (json_int_t)s->first_pkt,
			 "packets", (json_int_t)s->packets, "gen", (int)s->gen,
			 "actions", acts, "services", svcs, "shadows", rules);
}

static json_t *action_json(const struct rp_report *r, unsigned k)
{
	const struct rp_action *a = &r->actions[k];
	json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "index", (int)k, "by",
			      a->by_plan == RP_BY_GUARD ? "guard" : a->by_plan ? "plan" :
			      "schedule", a->by_plan ? "reason" : "command",
			      a->command, "status", status_name(a->status));

	if (!o)
		return NULL;
	if (!a->by_plan) {
		json_object_set_new(o, "line", json_integer(a->line));
		json_object_set_new(o, "at_ms", json_integer((json_int_t)a->at_ms));
	}
	if (a->status != RP_NOT_REACHED) {
		json_object_set_new(o, "applied_ms", json_integer((json_int_t)(a->applied_ns /
										 1000000u)));
		json_object_set_new(o, "packet", json_integer((json_int_t)a->packet));
		json_object_set_new(o, "gen", json_integer(a->gen));
	}
	if (a->status == RP_REFUSED)
		json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", a->code,
							  "message", a->message ? a->message : ""));
	return o;
}

/* Every slice summed for one service; changed and broken too. */
static void svc_total(const struct rp_report *r, unsigned i, struct rp_svc_slice *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned k = 0; k < r->nslices; k++) {
		const struct rp_svc_slice *ss = &r->slices[k].svc[i];

		t->changed += ss->changed;
		t->broken += ss->broken;
		for (unsigned g = 0; g < r->cfg->ngroups; g++) {
			t->g[g].pkts += ss->g[g].pkts;
			t->g[g].bytes += ss->g[g].bytes;
			t->g[g].flows += ss->g[g].flows;
			t->g[g].ret_pkts += ss->g[g].ret_pkts;
			t->g[g].ret_bytes += ss->g[g].ret_bytes;
			t->g[g].active = ss->g[g].active;
		}
	}
}

/* A shadow rule summed over the slices it existed in (by name). */
struct rule_total {
	const struct rp_rule_slice *last;
	uint64_t flows, pkts, drops, pending, service_flows;
};

static unsigned rule_totals(const struct rp_report *r, struct rule_total *t, unsigned max)
{
	unsigned n = 0;

	for (unsigned k = 0; k < r->nslices; k++)
		for (unsigned q = 0; q < r->slices[k].nrules; q++) {
			const struct rp_rule_slice *rs = &r->slices[k].rule[q];
			unsigned j;

			/* a slot without a name: a rule removed */
			if (!rs->name[0])
				continue;
			for (j = 0; j < n; j++)
				if (!strcmp(t[j].last->name, rs->name))
					break;
			if (j == n) {
				if (n == max)
					continue;
				memset(&t[n], 0, sizeof(t[n]));
				n++;
			}
			t[j].last = rs;
			t[j].flows += rs->flows;
			t[j].pkts += rs->pkts;
			t[j].drops += rs->drops;
			t[j].pending += rs->pending;
			t[j].service_flows += rs->service_flows;
		}
	return n;
}

#define MAX_RULE_NAMES 256

json_t *rp_report_json(const struct rp_report *r)
{
	const struct sl_config *cfg = r->cfg;
	const struct sl_counters *c = r->total;
	json_t *o, *slices = json_array(), *actions = json_array(), *svcs = json_object();
	json_t *ports = json_object(), *bad = json_object(), *shadows = json_object();
	struct rule_total *rt = calloc(MAX_RULE_NAMES, sizeof(*rt));
	uint64_t tx_full = 0, copies_dropped = 0;
	char first[48], last[48];
	unsigned nrt;

	if (!rt)
		return NULL;
	for (unsigned k = 0; k < r->nslices; k++)
		json_array_append_new(slices, slice_json(r, k));
	for (unsigned k = 0; k < r->nactions; k++)
		json_array_append_new(actions, action_json(r, k));
	for (unsigned i = 0; i < cfg->nservices; i++) {
		struct rp_svc_slice t;
		json_t *groups = json_object();
		uint64_t pkts = 0, flows = 0;

		svc_total(r, i, &t);
		for (unsigned g = 0; g < cfg->ngroups; g++) {
			pkts += t.g[g].pkts;
			flows += t.g[g].flows;
			if (group_shown(r, i, g, &t.g[g]))
				json_object_set_new(groups, cfg->groups[g].name, grp_json(&t.g[g]));
		}
		json_object_set_new(svcs, cfg->services[i].name,
				    json_pack("{s:I, s:I, s:I, s:I, s:o, s:o}", "packets",
					      (json_int_t)pkts, "new_flows", (json_int_t)flows,
					      "changed_group", (json_int_t)t.changed,
					      "reset_broken", (json_int_t)t.broken, "groups",
					      groups, "evidence", evidence_json(r, i)));
	}
	for (unsigned p = 0; p < cfg->nports; p++) {
		tx_full += c->port_drop[p];
		json_object_set_new(ports, cfg->ports[p].name,
				    json_pack("{s:s, s:I, s:I, s:I, s:s+}", "role",
					      sl_role_name(cfg->ports[p].role), "in",
					      (json_int_t)c->port_rx[p], "out",
					      (json_int_t)c->port_tx[p], "dropped",
					      (json_int_t)c->port_drop[p], "file",
					      cfg->ports[p].name, ".pcap"));
	}
	for (int b = 1; b < SL_BAD__COUNT; b++)
		json_object_set_new(bad, sl_bad_name((enum sl_bad)b),
				    json_integer((json_int_t)c->malformed[b]));
	nrt = rule_totals(r, rt, MAX_RULE_NAMES);
	for (unsigned j = 0; j < nrt; j++) {
		const struct rp_rule_slice *rs = rt[j].last;

		copies_dropped += rt[j].drops;
		json_object_set_new(shadows, rs->name,
			json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
				  "service", rs->service < cfg->nservices ?
					     cfg->services[rs->service].name : "?",
				  "port", rs->port < cfg->nports ? cfg->ports[rs->port].name : "?",
				  "sample_bp", (int)rs->sample_bp, "filter", rs->filter,
				  "flows_mirrored", (json_int_t)rt[j].flows,
				  "packets_mirrored", (json_int_t)rt[j].pkts,
				  "copies_dropped", (json_int_t)rt[j].drops,
				  "pending", (json_int_t)rt[j].pending,
				  "service_flows", (json_int_t)rt[j].service_flows,
				  "coverage", rt[j].service_flows ?
					  json_real((double)rt[j].flows /
						    (double)rt[j].service_flows) : json_null()));
	}
	free(rt);
	time_text(first, sizeof(first), r->first_ns, r->nano);
	time_text(last, sizeof(last), r->last_ns, r->nano);
	o = json_pack("{s:b, s:s, s:s, s:s, s:o, s:{s:s, s:I, s:I, s:s, s:s, s:I, s:I}, s:o, "
		      "s:o, s:o, s:o, s:o, s:o, s:o, "
		      "s:{s:I, s:I, s:I, s:I, s:I}, s:{s:f, s:f, s:f}}",
		      "complete", r->complete, "tool", "sluice-replay", "config", r->config_path,
		      "outdir", r->outdir,
		      "schedule", r->schedule_path ? json_string(r->schedule_path) : json_null(),
		      "input", "file", r->input_path, "packets", (json_int_t)r->packets,
		      "bytes", (json_int_t)r->bytes, "first", first, "last", last,
		      "duration_ms", (json_int_t)((r->last_ns - r->first_ns) / 1000000u),
		      "out_of_order", (json_int_t)r->out_of_order,
		      "actions", actions, "slices", slices, "services", svcs,
		      "shadows", shadows, "ports", ports, "malformed", bad,
		      "counters", json_pack("{s:I, s:I, s:I, s:I, s:I}", "ft_full",
					    (json_int_t)c->ft_full, "redecided",
					    (json_int_t)c->redecided, "expired",
					    (json_int_t)c->expired, "ret_untracked",
					    (json_int_t)c->ret_untracked, "other_fwd",
					    (json_int_t)c->other_fwd),
		      "drops", "malformed", (json_int_t)sl_malformed_total(c), "other",
		      (json_int_t)c->other_drop, "tx_full", (json_int_t)tx_full,
		      "shadow_received", (json_int_t)c->shadow_rx_drop, "shadow_copies",
		      (json_int_t)copies_dropped,
		      "run", "elapsed_s", r->elapsed_s, "pps", r->pps, "cpu_pps", r->cpu_pps);
	if (o) {
		json_int_t in = 0, out = 0, drop = 0;

		for (unsigned p = 0; p < cfg->nports; p++) {
			in += (json_int_t)c->port_rx[p];
			out += (json_int_t)c->port_tx[p];
			drop += (json_int_t)c->port_drop[p];
		}
		json_object_set_new(o, "totals", json_pack("{s:I, s:I, s:I}", "in", in, "out",
							   out, "dropped", drop));
	}
	return o;
}

/* ---- the human summary ---- */

static void share_text(char *buf, size_t len, int bp)
{
	if (bp < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%d.%02d %%", bp / 100, bp % 100);
}

static void addr_text(const struct sl_cfg_service *s, char *buf, size_t len)
{
	if (!inet_ntop(s->family == 4 ? AF_INET : AF_INET6, s->vip, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void change_text(const struct rp_report *r, const struct rp_slice *s, char *buf,
			size_t len)
{
	size_t off = 0;

	if (s->nactions == 0) {
		snprintf(buf, len, "%s", s->from_ns == 0 && s == r->slices ? "(configuration)" :
			 "-");
		return;
	}
	buf[0] = '\0';
	for (unsigned a = 0; a < s->nactions && off < len; a++) {
		const struct rp_action *x = &r->actions[s->action0 + a];

		if (x->by_plan)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", a ? "; " : "",
						x->command);
		else
			off += (size_t)snprintf(buf + off, len - off, "%sline %u: %s%s", a ? "; " : "",
						x->line, x->command,
						x->status == RP_REFUSED ? " (REFUSED)" :
						x->status == RP_UNCHANGED ? " (unchanged)" : "");
	}
	if (off >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
}

static void ms_text(char *buf, size_t len, int64_t us)
{
	if (us < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.3g ms", (double)us / 1000.0);
}

/* A line per role: the evidence the dataplane counted for the service
 * over the run (nothing when it saw no flow). */
static void evidence_text(const struct rp_report *r, unsigned i, FILE *f)
{
	const struct sl_evidence *ev = &r->total->ev;
	const char *names[2];

	if (!ev->svc[i][0].flows && !ev->svc[i][1].flows)
		return;
	roles_at_end(r, i, &names[0], &names[1]);
	for (unsigned role = 0; role < 2; role++) {
		const struct sl_ev_cell *c = &ev->svc[i][role];
		char p50[24], p99[24];

		ms_text(p50, sizeof(p50), sl_hist_pct(c->ttfb_us, 50));
		ms_text(p99, sizeof(p99), sl_hist_pct(c->ttfb_us, 99));
		fprintf(f, "  evidence %-10s %-8.8s flows %llu, handshakes ok %llu failed %llu, "
			"reset %llu, ICMP %llu, TTFB p50 %s p99 %s (%llu flows)\n",
			role == SL_EV_CHAMPION ? "champion" : "challenger", names[role],
			(unsigned long long)c->flows, (unsigned long long)c->hs_ok,
			(unsigned long long)c->hs_fail, (unsigned long long)c->rst,
			(unsigned long long)c->icmp, p50, p99, (unsigned long long)c->ttfb_flows);
	}
}

/* One table per service: a row per slice; the new and active flows of
 * the service's two groups (as configured: their roles may swap); flows
 * moved to the other group, and of those established connections broken. */
static void service_text(const struct rp_report *r, unsigned i, FILE *f)
{
	const struct sl_config *cfg = r->cfg;
	const struct sl_cfg_service *cs = &cfg->services[i];
	const char *ga = cfg->groups[cs->champion].name, *gb = cfg->groups[cs->challenger].name;
	struct rp_svc_slice t;
	char addr[64];

	addr_text(cs, addr, sizeof(addr));
	fprintf(f, "\n%s: %s %s port %u%s\n", cs->name, cs->proto == 6 ? "tcp" : "udp", addr,
		cs->ranges[0].lo, cs->nranges > 1 || cs->ranges[0].hi != cs->ranges[0].lo ?
		" and more" : "");
	/* the change last: its text is whole however long */
	fprintf(f, "  %5s  %-15s %3s  %-14s %-14s %17s %17s %9s  %s\n", "slice", "time (s)",
		"gen", "configured", "measured", "new flows", "active flows", "moved", "change");
	fprintf(f, "  %5s  %-15s %3s  %-14s %-14s %8.8s %8.8s %8.8s %8.8s %9s\n", "", "", "",
		"challenger", "challenger", ga, gb, ga, gb, "(broken)");
	for (unsigned k = 0; k < r->nslices; k++) {
		const struct rp_slice *s = &r->slices[k];
		const struct rp_svc_slice *ss = &s->svc[i];
		const char *chall = cfg->groups[ss->challenger].name;
		char when[40], change[1024], conf[48], meas[48], sh[24], moved[32];

		snprintf(when, sizeof(when), "%7.3f-%-7.3f", (double)s->from_ns / 1e9,
			 (double)s->to_ns / 1e9);
		change_text(r, s, change, sizeof(change));
		share_text(sh, sizeof(sh), ss->share_bp);
		snprintf(conf, sizeof(conf), "%.6s %s", chall, sh);
		share_text(sh, sizeof(sh), measured_bp(ss));
		snprintf(meas, sizeof(meas), "%.6s %s", chall, sh);
		if (ss->changed)
			snprintf(moved, sizeof(moved), "%llu (%llu)", (unsigned long long)ss->changed,
				 (unsigned long long)ss->broken);
		else
			snprintf(moved, sizeof(moved), "0");
		fprintf(f, "  %5u  %-15s %3u  %-14s %-14s %8llu %8llu %8llu %8llu %9s  %s\n",
			k + 1, when, s->gen, conf, meas,
			(unsigned long long)ss->g[cs->champion].flows,
			(unsigned long long)ss->g[cs->challenger].flows,
			(unsigned long long)ss->g[cs->champion].active,
			(unsigned long long)ss->g[cs->challenger].active, moved, change);
	}
	svc_total(r, i, &t);
	fprintf(f, "  flows that changed group: %llu; established connections broken by --reset: "
		"%llu\n", (unsigned long long)t.changed, (unsigned long long)t.broken);
	evidence_text(r, i, f);
	/* each guard at the end of each slice it watched */
	for (unsigned k = 0; k < r->nslices; k++) {
		const json_t *g = r->slices[k].svc[i].guards;
		size_t j;
		json_t *x;

		json_array_foreach(g, j, x)
			fprintf(f, "  guard at the end of slice %u: %s\n", k + 1,
				json_string_value(json_object_get(x, "sentence")));
	}
}

void rp_report_text(const struct rp_report *r, FILE *f)
{
	const struct sl_config *cfg = r->cfg;
	const struct sl_counters *c = r->total;
	struct rule_total *rt = calloc(MAX_RULE_NAMES, sizeof(*rt));
	unsigned counts[4] = { 0 }, nplan = 0, nguard = 0, nrt;

	fprintf(f, "sluice-replay: %s: %llu packets, %llu bytes, %.3f s of traffic; %s%s%s\n",
		r->input_path, (unsigned long long)r->packets, (unsigned long long)r->bytes,
		(double)(r->last_ns - r->first_ns) / 1e9, r->schedule_path ? "schedule " : "",
		r->schedule_path ? r->schedule_path : "no schedule",
		r->complete ? "" : " (INCOMPLETE)");
	for (unsigned i = 0; i < cfg->nservices; i++)
		service_text(r, i, f);

	fprintf(f, "\n  %-12s %-8s %10s %10s %8s  %s\n", "port", "role", "in", "out", "dropped",
		"file");
	for (unsigned p = 0; p < cfg->nports; p++)
		fprintf(f, "  %-12s %-8s %10llu %10llu %8llu  %s/%s.pcap\n", cfg->ports[p].name,
			sl_role_name(cfg->ports[p].role), (unsigned long long)c->port_rx[p],
			(unsigned long long)c->port_tx[p], (unsigned long long)c->port_drop[p],
			r->outdir, cfg->ports[p].name);
	fprintf(f, "  other traffic dropped: %llu; received on shadow ports and dropped: %llu\n",
		(unsigned long long)c->other_drop, (unsigned long long)c->shadow_rx_drop);
	fprintf(f, "  malformed: %llu (%s)", (unsigned long long)sl_malformed_total(c),
		cfg->malformed == SL_MALFORMED_FORWARD ? "forwarded" : "dropped");
	for (int b = 1, col = 100; b < SL_BAD__COUNT; b++) {
		char item[48];
		int n;

		if (!c->malformed[b])
			continue;
		n = snprintf(item, sizeof(item), "%s %llu", sl_bad_name((enum sl_bad)b),
			     (unsigned long long)c->malformed[b]);
		/* reasons wrapped under the line, a few to a line */
		if (col + n + 2 > 96) {
			fprintf(f, "\n    %s", item);
			col = 4 + n;
		} else {
			fprintf(f, ", %s", item);
			col += 2 + n;
		}
	}
	fputc('\n', f);
	nrt = rt ? rule_totals(r, rt, MAX_RULE_NAMES) : 0;
	for (unsigned j = 0; j < nrt; j++) {
		const struct rp_rule_slice *rs = rt[j].last;
		char sh[24], cov[24];

		share_text(sh, sizeof(sh), rs->sample_bp);
		if (rt[j].service_flows)
			snprintf(cov, sizeof(cov), "%.2f %%", 100.0 * (double)rt[j].flows /
				 (double)rt[j].service_flows);
		else
			snprintf(cov, sizeof(cov), "-");
		fprintf(f, "  shadow %s -> %s: %s, sample %s, filter '%s': %llu of %llu flows "
			"mirrored (coverage %s), %llu packets, %llu copies dropped\n", rs->name,
			rs->port < cfg->nports ? cfg->ports[rs->port].name : "?",
			rs->service < cfg->nservices ? cfg->services[rs->service].name : "?", sh,
			rs->filter[0] ? rs->filter : "(every packet)",
			(unsigned long long)rt[j].flows, (unsigned long long)rt[j].service_flows,
			cov, (unsigned long long)rt[j].pkts, (unsigned long long)rt[j].drops);
	}
	free(rt);
	for (unsigned k = 0; k < r->nactions; k++) {
		if (r->actions[k].by_plan == RP_BY_GUARD)
			nguard++;
		else if (r->actions[k].by_plan)
			nplan++;
		else
			counts[r->actions[k].status]++;
	}
	if (r->schedule_path)
		fprintf(f, "  schedule: %u applied (%u changed, %u unchanged), %u refused, %u not "
			"reached (after the last packet); %u rollout step%s by the plan; %u guard "
			"action%s; journal %s/journal.jsonl\n",
			counts[RP_CHANGED] + counts[RP_UNCHANGED], counts[RP_CHANGED],
			counts[RP_UNCHANGED], counts[RP_REFUSED], counts[RP_NOT_REACHED], nplan,
			nplan == 1 ? "" : "s", nguard, nguard == 1 ? "" : "s", r->outdir);
	fprintf(f, "  replayed in %.3f s: %.2f M packets/s\n", r->elapsed_s, r->pps / 1e6);
	for (unsigned k = 0; k < r->nactions; k++) {
		const struct rp_action *a = &r->actions[k];

		if (a->status == RP_REFUSED)
			fprintf(f, "  REFUSED %s:%u: at %.3f s: %s: %s: %s\n", r->schedule_path,
				a->line, (double)a->applied_ns / 1e9, a->command, a->code,
				a->message ? a->message : "");
		else if (a->status == RP_NOT_REACHED && !a->by_plan)
			fprintf(f, "  not reached %s:%u: at %llu ms: %s\n", r->schedule_path,
				a->line, (unsigned long long)a->at_ms, a->command);
	}
}
