/* Rollout guards: evidence, windows, verdicts (see guard.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errmsg.h"
#include "guard.h"
#include "rollout.h"
#include "state.h"

const char *sl_guard_signal_str(const struct sl_cfg_guard *g, char *buf, size_t len)
{
	static const char *const names[] = {
		[SL_SIG_RST] = "rst", [SL_SIG_HANDSHAKE] = "handshake", [SL_SIG_ICMP] = "icmp",
		[SL_SIG_TTFB] = "ttfb", [SL_SIG_SYNACK] = "synack",
	};

	if (g->signal == SL_SIG_PUSHED)
		snprintf(buf, len, "pushed:%s", g->pushed);
	else if (g->signal >= SL_SIG_RST && g->signal <= SL_SIG_SYNACK)
		snprintf(buf, len, "%s", names[g->signal]);
	else
		snprintf(buf, len, "signal %u", g->signal);
	return buf;
}

/* ---- definitions as JSON ---- */

/* Shortest decimal that reads back as the same double. */
static void num_str(double v, char *buf, size_t len)
{
	for (int p = 1; p <= 17; p++) {
		snprintf(buf, len, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

json_t *sl_guard_def_json(const struct sl_cfg_guard *g)
{
	char sig[SL_NAME_LEN + 16], num[40], val[48];
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(g->name));
	json_object_set_new(o, "service", json_string(g->service));
	if (g->slice[0])
		json_object_set_new(o, "slice", json_string(g->slice));
	json_object_set_new(o, "signal", json_string(sl_guard_signal_str(g, sig, sizeof(sig))));
	if (g->signal == SL_SIG_TTFB || g->signal == SL_SIG_SYNACK) {
		snprintf(val, sizeof(val), "%" PRIu32 "us", g->threshold_us);
		json_object_set_new(o, "threshold", json_string(val));
	}
	json_object_set_new(o, "min_flows", json_integer(g->min_flows));
	if (g->margin == 0) {
		snprintf(val, sizeof(val), "0");
	} else {
		num_str(g->margin * 100.0, num, sizeof(num));
		snprintf(val, sizeof(val), "%spp", num);
	}
	json_object_set_new(o, "margin", json_string(val));
	num_str(g->alpha, num, sizeof(num));
	json_object_set_new(o, "alpha", json_string(num));
	json_object_set_new(o, "on_fail", json_string(g->on_fail == SL_GUARD_PAUSE ? "pause" :
						      "abort"));
	json_object_set_new(o, "on_inconclusive",
			    json_string(g->on_inconclusive == SL_GUARD_INC_HOLD ? "hold" :
					"pause"));
	json_object_set_new(o, "reset", json_string(g->reset ? "yes" : "no"));
	return o;
}

struct json_get {
	const json_t *o;
	char num[32];
};

static const char *json_get(void *ctx, const char *key)
{
	struct json_get *c = ctx;
	const json_t *v = json_object_get(c->o, key);

	if (!v)
		return NULL;
	if (json_is_integer(v)) {
		snprintf(c->num, sizeof(c->num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return c->num;
	}
	return json_string_value(v);
}

int sl_guard_def_from_json(struct sl_cfg_guard *g, const json_t *o, const char *where,
			   char *err, size_t errlen)
{
	struct json_get ctx = { .o = o };
	const json_t *name, *v;
	const char *key;
	char at[SL_ERR_LEN];

	if (!json_is_object(o))
		return sl_seterr(err, errlen, "%s: expected a guard object such as {\"name\": "
				 "\"billing-errors\", \"service\": \"web\", \"signal\": \"rst\"}",
				 where);
	name = json_object_get(o, "name");
	if (!json_is_string(name))
		return sl_seterr(err, errlen, "%s: name: %s (expected the guard's name, a "
				 "string)", where, name ? "not a string" : "missing");
	json_object_foreach((json_t *)o, key, v) {
		int known = !strcmp(key, "name");

		for (int i = 0; sl_guard_keys[i] && !known; i++)
			known = !strcmp(key, sl_guard_keys[i]);
		if (!known)
			return sl_seterr(err, errlen, "%s: unknown key '%.64s' (expected name, "
					 "service, slice, signal, threshold, min_flows, margin, "
					 "alpha, on_fail, on_inconclusive, reset, rollouts)", where,
					 key);
		if (!json_is_string(v) && !(json_is_integer(v) && !strcmp(key, "min_flows")))
			return sl_seterr(err, errlen, "%s: %s: expected a string%s", where, key,
					 !strcmp(key, "min_flows") ? " or a whole number" : "");
	}
	snprintf(at, sizeof(at), "%s (guard %.64s)", where, json_string_value(name));
	return sl_guard_parse(g, json_string_value(name), json_get, &ctx, at, err, errlen);
}

/* ---- pushed evidence ---- */

struct sl_pushed_ent *sl_pushed_add(struct sl_pushed *p, const char *service, const char *slice,
				    const char *signal, int role, uint64_t total, uint64_t bad,
				    char *err, size_t errlen)
{
	struct sl_pushed_ent *e = NULL;

	if (role < 0 || role > 1 || bad > total) {
		sl_seterr(err, errlen, "bad %" PRIu64 " > total %" PRIu64, bad, total);
		return NULL;
	}
	for (uint32_t i = 0; i < p->n && !e; i++)
		if (!strcmp(p->e[i].service, service) && !strcmp(p->e[i].slice, slice) &&
		    !strcmp(p->e[i].signal, signal))
			e = &p->e[i];
	if (!e) {
		if (p->n == SL_MAX_PUSHED) {
			sl_seterr(err, errlen, "%u pushed signals are kept already (service, slice "
				  "and signal name); no room for %s/%s/%s", SL_MAX_PUSHED, service,
				  slice[0] ? slice : "-", signal);
			return NULL;
		}
		e = &p->e[p->n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->service, sizeof(e->service), "%s", service);
		snprintf(e->slice, sizeof(e->slice), "%s", slice);
		snprintf(e->signal, sizeof(e->signal), "%s", signal);
	}
	if (e->total[role] + total < e->total[role]) {
		sl_seterr(err, errlen, "total would overflow the cumulative count %" PRIu64,
			  e->total[role]);
		return NULL;
	}
	e->total[role] += total;
	e->bad[role] += bad;
	return e;
}

/* ---- counts ---- */

void sl_guard_resolve(const struct sl_cfg_guard *g, const struct sl_table_hdr *hdr,
		      struct sl_guard_src *src)
{
	memset(src, 0, sizeof(*src));
	src->svc = -1;
	src->slot = -1;
	for (unsigned s = 0; s < hdr->nservices; s++)
		if (!strcmp(hdr->services[s].name, g->service))
			src->svc = (int)s;
	if (src->svc < 0) {
		snprintf(src->why, sizeof(src->why), "service %.32s is not in the table", g->service);
		return;
	}
	if (!g->slice[0])
		return;
	src->slot = sl_slice_find(hdr, src->svc, g->slice);
	if (src->slot < 0)
		snprintf(src->why, sizeof(src->why), "slice %.32s of %.32s is not in the table",
			 g->slice, g->service);
}

unsigned sl_guard_bad_bucket(uint32_t threshold_us)
{
	unsigned k = sl_hist_bucket(threshold_us);

	if (sl_hist_edge(k) < threshold_us && k < SL_HIST_BUCKETS - 1)
		k++;
	return k;
}

static uint64_t ld(const sl_u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

void sl_guard_read(const struct sl_cfg_guard *g, const struct sl_guard_src *src,
		   const struct sl_counters *stats, uint32_t nworkers, const struct sl_pushed *p,
		   struct sl_guard_counts *c)
{
	unsigned from = (g->signal == SL_SIG_TTFB || g->signal == SL_SIG_SYNACK) ?
			sl_guard_bad_bucket(g->threshold_us) : 0;

	memset(c, 0, sizeof(*c));
	if (g->signal == SL_SIG_PUSHED) {
		for (uint32_t i = 0; p && i < p->n; i++) {
			const struct sl_pushed_ent *e = &p->e[i];

			if (strcmp(e->service, g->service) || strcmp(e->slice, g->slice) ||
			    strcmp(e->signal, g->pushed))
				continue;
			for (int r = 0; r < 2; r++) {
				c->n[r] = e->total[r];
				c->x[r] = e->bad[r];
			}
		}
		return;
	}
	if (src->svc < 0 || (g->slice[0] && src->slot < 0))
		return;
	for (uint32_t w = 0; w < nworkers; w++) {
		for (int r = 0; r < 2; r++) {
			const struct sl_ev_cell *e = src->slot >= 0 ?
						     &stats[w].ev.slice[src->slot][r] :
						     &stats[w].ev.svc[src->svc][r];

			switch (g->signal) {
			case SL_SIG_RST:
				c->n[r] += ld(&e->flows);
				c->x[r] += ld(&e->rst);
				break;
			case SL_SIG_HANDSHAKE:
				c->n[r] += ld(&e->hs_ok) + ld(&e->hs_fail);
				c->x[r] += ld(&e->hs_fail);
				break;
			case SL_SIG_ICMP:
				c->n[r] += ld(&e->flows);
				c->x[r] += ld(&e->icmp);
				break;
			case SL_SIG_TTFB:
				c->n[r] += ld(&e->ttfb_flows);
				for (unsigned k = from; k < SL_HIST_BUCKETS; k++)
					c->x[r] += ld(&e->ttfb_us[k]);
				break;
			case SL_SIG_SYNACK:
				c->n[r] += ld(&e->hs_ok);
				for (unsigned k = from; k < SL_HIST_BUCKETS; k++)
					c->x[r] += ld(&e->hs_us[k]);
				break;
			default:
				break;
			}
		}
	}
	/* counters are read one by one while workers add: never more bad than
	 * flows in what the test sees */
	for (int r = 0; r < 2; r++)
		if (c->x[r] > c->n[r])
			c->x[r] = c->n[r];
}

/* ---- windows and verdicts ---- */

const char *sl_guard_verdict_name(enum sl_guard_verdict v)
{
	switch (v) {
	case SL_GV_COLLECTING:
		return "collecting";
	case SL_GV_PASSING:
		return "passing";
	case SL_GV_FAILED:
		return "failed";
	default:
		return "none";
	}
}

static int same_key(const struct sl_guard_run *r, const struct sl_rollout *ro,
		    const char *champion, const char *challenger)
{
	return r->ro_started_ms == ro->started_ms && r->step == ro->step &&
	       r->share_bp == ro->steps[ro->step].share_bp && !strcmp(r->champion, champion) &&
	       !strcmp(r->challenger, challenger);
}

static void window_start(struct sl_guard_run *r, const struct sl_guard_counts *now,
			 uint64_t now_ms)
{
	r->base = *now;
	memset(&r->win, 0, sizeof(r->win));
	sl_seq_init(&r->seq, r->def.alpha, r->def.margin);
	r->window_ms = now_ms;
	r->verdict = SL_GV_COLLECTING;
	r->failed_ms = 0;
	r->action[0] = '\0';
}

static enum sl_guard_verdict verdict_of(const struct sl_guard_run *r)
{
	if (r->seq.rejected)
		return SL_GV_FAILED;
	if (r->win.n[0] >= r->def.min_flows && r->win.n[1] >= r->def.min_flows)
		return SL_GV_PASSING;
	return SL_GV_COLLECTING;
}

void sl_guards_look(struct sl_guard_board *b, int svc, const struct sl_rollout *ro,
		    const char *champion, const char *challenger, const struct sl_table_hdr *hdr,
		    const struct sl_counters *stats, uint32_t nworkers, const struct sl_pushed *p,
		    uint64_t now_ms, struct sl_guard_look_svc *out)
{
	int active = sl_ro_active(ro);

	memset(out, 0, sizeof(*out));
	for (uint32_t i = 0; i < SL_RO_MAX_GUARDS; i++) {
		struct sl_guard_run *r = &b->r[svc][i];
		struct sl_guard_counts now;
		struct sl_guard_src src;
		int restart = 0;

		if (i >= ro->nguards) {
			r->used = 0;
			continue;
		}
		if (!active) {
			/* the rollout ended: its figures stay as they were */
			if (r->used)
				r->frozen = 1;
			continue;
		}
		if (!r->used || r->frozen || !same_key(r, ro, champion, challenger) ||
		    strcmp(r->def.name, ro->guards[i].name)) {
			memset(r, 0, sizeof(*r));
			r->used = 1;
			r->def = ro->guards[i];
			r->ro_started_ms = ro->started_ms;
			r->step = ro->step;
			r->share_bp = ro->steps[ro->step].share_bp;
			snprintf(r->champion, sizeof(r->champion), "%s", champion);
			snprintf(r->challenger, sizeof(r->challenger), "%s", challenger);
			restart = 1;
		}
		sl_guard_resolve(&r->def, hdr, &src);
		snprintf(r->src_why, sizeof(r->src_why), "%s",
			 r->def.signal == SL_SIG_PUSHED ? "" : src.why);
		sl_guard_read(&r->def, &src, stats, nworkers, p, &now);
		for (int k = 0; k < 2 && !restart; k++)
			if (now.n[k] < r->base.n[k] || now.x[k] < r->base.x[k]) {
				restart = 1;
				r->restarts++;
			}
		if (restart) {
			window_start(r, &now, now_ms);
			/* the first look is over the window's first counts (none) */
		}
		if (r->seq.rejected)
			continue;
		for (int k = 0; k < 2; k++) {
			r->win.n[k] = now.n[k] - r->base.n[k];
			r->win.x[k] = now.x[k] - r->base.x[k];
		}
		/* champion is a, challenger b: H0 p_b - p_a <= margin */
		if (sl_seq_look(&r->seq, r->win.n[0], r->win.x[0], r->win.n[1], r->win.x[1]) == 1) {
			r->verdict = SL_GV_FAILED;
			r->failed_ms = now_ms;
			out->failed[out->nfailed++] = (uint8_t)i;
		} else {
			r->verdict = verdict_of(r);
		}
	}
}

int sl_guards_gate(const struct sl_guard_board *b, int svc, const struct sl_rollout *ro,
		   int *pause, char *reason, size_t len)
{
	int blocked = 0;

	*pause = 0;
	reason[0] = '\0';
	for (uint32_t i = 0; i < ro->nguards && i < SL_RO_MAX_GUARDS; i++) {
		const struct sl_guard_run *r = &b->r[svc][i];
		const struct sl_cfg_guard *g = &ro->guards[i];
		char one[320];

		if (r->used && !r->frozen && r->verdict == SL_GV_PASSING)
			continue;
		if (r->used && r->verdict == SL_GV_FAILED)
			snprintf(one, sizeof(one), "guard %s failed", g->name);
		else if (!r->used)
			snprintf(one, sizeof(one), "guard %s has not looked at this step yet",
				 g->name);
		else if (r->win.n[0] < g->min_flows || r->win.n[1] < g->min_flows)
			snprintf(one, sizeof(one), "guard %s inconclusive: challenger %" PRIu64
				 " and champion %" PRIu64 " flows, %" PRIu32 " needed in each%s%s",
				 g->name, r->win.n[1], r->win.n[0], g->min_flows,
				 r->src_why[0] ? "; " : "", r->src_why);
		else
			continue;
		if (g->on_inconclusive == SL_GUARD_INC_PAUSE)
			*pause = 1;
		if (blocked)
			sl_adderr(reason, len, "; %s", one);
		else
			sl_seterr(reason, len, "%s", one);
		blocked = 1;
	}
	return blocked;
}

/* ---- the operator's view ---- */

static double rate(uint64_t x, uint64_t n)
{
	return n ? 100.0 * (double)x / (double)n : 0.0;
}

static void clock_str(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000u);
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(buf, len, "%H:%M:%S UTC", &tm);
	else
		snprintf(buf, len, "%" PRIu64 " ms", ms);
}

void sl_guard_sentence(const struct sl_guard_run *r, char *buf, size_t len)
{
	const struct sl_guard_counts *w = &r->win;
	char at[32], rates[256];

	if (!r->used) {
		snprintf(buf, len, "no evidence looked at yet");
		return;
	}
	snprintf(rates, sizeof(rates), "%s: challenger %.2f %% vs champion %.2f %% on %" PRIu64
		 " / %" PRIu64 " flows", r->def.name, rate(w->x[1], w->n[1]),
		 rate(w->x[0], w->n[0]), w->n[1], w->n[0]);
	switch (r->verdict) {
	case SL_GV_FAILED:
		clock_str(r->failed_ms, at, sizeof(at));
		snprintf(buf, len, "%s: failed (log E %.2f >= %.2f), %s at %s", rates,
			 sl_seq_statistic(&r->seq), sl_seq_threshold(&r->seq),
			 r->action[0] ? r->action : "no action", at);
		break;
	case SL_GV_PASSING:
		snprintf(buf, len, "%s: passing (log E %.2f < %.2f)%s", rates,
			 sl_seq_statistic(&r->seq), sl_seq_threshold(&r->seq),
			 r->frozen ? "; the rollout has ended" : "");
		break;
	default:
		snprintf(buf, len, "%s: collecting (%" PRIu32 " flows needed in each group)%s%s%s",
			 rates, r->def.min_flows, r->src_why[0] ? "; " : "", r->src_why,
			 r->frozen ? "; the rollout has ended" : "");
		break;
	}
}

static json_t *group_json(uint64_t n, uint64_t x)
{
	return json_pack("{s:I, s:I, s:f}", "flows", (json_int_t)n, "bad", (json_int_t)x, "rate",
			 n ? (double)x / (double)n : 0.0);
}

json_t *sl_guard_run_json(const struct sl_guard_run *r, uint64_t now_ms)
{
	char sig[SL_NAME_LEN + 16], sentence[768];
	double lo, hi;
	json_t *o;

	sl_seq_bounds(&r->seq, &lo, &hi);
	sl_guard_sentence(r, sentence, sizeof(sentence));
	o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:f, s:f, s:[f, f], s:I, s:f, s:f, s:s, s:s, "
		      "s:I, s:I, s:s, s:b}",
		      "name", r->def.name, "signal", sl_guard_signal_str(&r->def, sig, sizeof(sig)),
		      "verdict", sl_guard_verdict_name(r->verdict),
		      "champion", group_json(r->win.n[0], r->win.x[0]),
		      "challenger", group_json(r->win.n[1], r->win.x[1]),
		      "statistic", sl_seq_statistic(&r->seq), "threshold",
		      sl_seq_threshold(&r->seq), "bounds", lo, hi,
		      "min_flows", (json_int_t)r->def.min_flows, "margin", r->def.margin,
		      "alpha", r->def.alpha,
		      "on_fail", r->def.on_fail == SL_GUARD_PAUSE ? "pause" : "abort",
		      "on_inconclusive", r->def.on_inconclusive == SL_GUARD_INC_HOLD ? "hold" :
		      "pause",
		      "window_s", (json_int_t)(r->used && now_ms > r->window_ms ?
					       (now_ms - r->window_ms) / 1000u : 0),
		      "step", (json_int_t)r->step + 1, "sentence", sentence, "ended",
		      r->frozen);
	if (!o)
		return NULL;
	if (r->def.slice[0])
		json_object_set_new(o, "slice", json_string(r->def.slice));
	if (r->def.signal == SL_SIG_TTFB || r->def.signal == SL_SIG_SYNACK)
		json_object_set_new(o, "threshold_us", json_integer(r->def.threshold_us));
	if (r->verdict == SL_GV_FAILED) {
		json_object_set_new(o, "failed_at_ms", json_integer((json_int_t)r->failed_ms));
		if (r->action[0])
			json_object_set_new(o, "action", json_string(r->action));
	}
	if (r->src_why[0])
		json_object_set_new(o, "source", json_string(r->src_why));
	return o;
}
