/* Measured share: samples of the stats map over a window, the share
 * measured in it, the status sentences, the status and rollout JSON of a
 * service (see state.h). */
#include <stdio.h>
#include <string.h>

#include "state.h"
#include "state_int.h"

void sl_st_window_reset(struct sl_state *st)
{
	st->nsamples = 0;
	st->head = 0;
}

void sl_state_sample(struct sl_state *st, const struct sl_counters *stats, uint32_t nworkers,
		     uint64_t now_ms)
{
	uint64_t (*cur)[SL_MAX_GROUPS] = st->flows[st->head];
	unsigned ns = st->base->nservices, ng = st->base->ngroups;
	int dropped = 0;

	if (nworkers == 0 || nworkers != st->workers) {
		sl_st_window_reset(st);
		memset(st->active, 0, SL_MAX_SERVICES * sizeof(*st->active));
	}
	st->workers = nworkers;
	if (nworkers == 0)
		return;
	for (unsigned s = 0; s < ns; s++)
		for (unsigned g = 0; g < ng; g++) {
			uint64_t f = 0, a = 0;

			/* Workers add to these while we read: one load each. */
			for (uint32_t w = 0; w < nworkers; w++) {
				f += __atomic_load_n(&stats[w].grp[s][g].flows, __ATOMIC_RELAXED);
				a += __atomic_load_n(&stats[w].grp[s][g].active, __ATOMIC_RELAXED);
			}
			cur[s][g] = f;
			st->active[s][g] = a;
		}
	if (st->nsamples) {
		const uint64_t (*prev)[SL_MAX_GROUPS] =
			(const uint64_t (*)[SL_MAX_GROUPS])st->flows[(st->head + SL_SHARE_SAMPLES - 1) %
							   SL_SHARE_SAMPLES];

		for (unsigned s = 0; s < ns && !dropped; s++)
			for (unsigned g = 0; g < ng; g++)
				if (cur[s][g] < prev[s][g]) {
					dropped = 1;
					break;
				}
	}
	if (dropped) {
		/* The dataplane started again: this sample begins a new window. */
		memmove(st->flows[0], cur, sizeof(st->flows[0]));
		st->head = 0;
		st->nsamples = 0;
	}
	st->sample_ms[st->head] = now_ms;
	st->head = (st->head + 1) % SL_SHARE_SAMPLES;
	if (st->nsamples < SL_SHARE_SAMPLES)
		st->nsamples++;
}

void sl_state_measure(const struct sl_state *st, int svc, struct sl_measure *m)
{
	const struct sl_svc_rec *r = &st->svc[svc].st;
	int c = sl_st_base_group(st, r->champion), h = sl_st_base_group(st, r->challenger);
	unsigned newest, oldest;

	memset(m, 0, sizeof(*m));
	if (c >= 0 && st->workers)
		m->champion_active = st->active[svc][c];
	if (h >= 0 && st->workers)
		m->challenger_active = st->active[svc][h];
	if (st->nsamples < 2)
		return;
	newest = (st->head + SL_SHARE_SAMPLES - 1) % SL_SHARE_SAMPLES;
	oldest = (st->head + SL_SHARE_SAMPLES - st->nsamples) % SL_SHARE_SAMPLES;
	m->interval_s = (uint32_t)((st->sample_ms[newest] - st->sample_ms[oldest] + 500) / 1000);
	for (unsigned g = 0; g < st->base->ngroups; g++) {
		uint64_t d = st->flows[newest][svc][g] - st->flows[oldest][svc][g];

		m->total_flows += d;
		if ((int)g == c)
			m->champion_flows = d;
		if ((int)g == h)
			m->challenger_flows = d;
	}
	if (m->total_flows) {
		m->measured = 1;
		m->share_bp = (uint16_t)((m->challenger_flows * SL_SHARE_MAX_BP +
					  m->total_flows / 2) / m->total_flows);
	}
}

/* A shadow phase (share 0, shadow rules): the challenger sees copies
 * only.  Returns 0 when the service has no shadow rule. */
static int shadow_sentence(const struct sl_state *st, const char *svc, char *buf, size_t len)
{
	unsigned nrules = 0, nports = 0;
	const char *ports[SL_MAX_SHADOWS];
	size_t n;

	for (unsigned r = 0; r < st->shadows.n; r++) {
		const struct sl_shadow_rule *x = &st->shadows.r[r];
		unsigned p;

		if (!x->name[0] || strcmp(x->service, svc))
			continue;
		nrules++;
		for (p = 0; p < nports && strcmp(ports[p], x->port); p++)
			;
		if (p == nports)
			ports[nports++] = x->port;
	}
	if (!nrules)
		return 0;
	n = (size_t)snprintf(buf, len, "Challenger output reaches users: no; the shadow port%s "
			     "receive%s copies", nports == 1 ? "" : "s", nports == 1 ? "s" : "");
	for (unsigned r = 0, k = 0; r < st->shadows.n && n < len; r++) {
		const struct sl_shadow_rule *x = &st->shadows.r[r];

		if (!x->name[0] || strcmp(x->service, svc))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s of %.2f %% of %s's flows", k++ ?
				      " and" : "", x->sample_bp / 100.0, svc);
		if (n < len && x->filter[0])
			n += (size_t)snprintf(buf + n, len - n, " matching '%s'", x->filter);
		if (n < len)
			n += (size_t)snprintf(buf + n, len - n, " (rule %s)", x->name);
	}
	if (n < len)
		snprintf(buf + n, len - n, "; %s output never reaches a user.",
			 nports == 1 ? "its" : "their");
	return 1;
}

void sl_state_sentences(const struct sl_state *st, int svc, struct sl_sentences *out)
{
	const struct sl_svc_rec *r = &st->svc[svc].st;
	const struct sl_undo *u = &st->undo[svc];
	struct sl_measure m;
	double share = r->share_bp / 100.0;
	unsigned long long act;

	sl_state_measure(st, svc, &m);
	act = (unsigned long long)m.challenger_active;
	if (r->share_bp == 0 && shadow_sentence(st, r->name, out->challenger_output,
						sizeof(out->challenger_output)))
		;
	else if (r->share_bp == 0)
		snprintf(out->challenger_output, sizeof(out->challenger_output),
			 "Challenger output reaches users: no, %s receives no new flows (%llu "
			 "established %s flow%s remain%s).", r->challenger, act, r->challenger,
			 act == 1 ? "" : "s", act == 1 ? "s" : "");
	else
		snprintf(out->challenger_output, sizeof(out->challenger_output),
			 "Challenger output reaches users: yes, %s serves %.2f %% of new flows.",
			 r->challenger, share);

	if (!st->workers)
		snprintf(out->live_share, sizeof(out->live_share), "Live on the challenger: %.2f %% "
			 "of new flows (nothing measured yet: no dataplane attached).", share);
	else if (st->nsamples < 2)
		snprintf(out->live_share, sizeof(out->live_share), "Live on the challenger: %.2f %% "
			 "of new flows (nothing measured yet: the dataplane attached less than "
			 "2 s ago).", share);
	else if (!m.measured)
		snprintf(out->live_share, sizeof(out->live_share), "Live on the challenger: %.2f %% "
			 "of new flows (no new flows in the last %u s).", share, m.interval_s);
	else
		snprintf(out->live_share, sizeof(out->live_share), "Live on the challenger: %.2f %% "
			 "of new flows (measured %.2f %% over the last %u s).", share,
			 m.share_bp / 100.0, m.interval_s);

	switch (r->strategy) {
	case SL_STRAT_CANARY:
	case SL_STRAT_ROLLOUT:
		snprintf(out->rollback, sizeof(out->rollback), "Rollback: abort sends 100 %% of new "
			 "flows to %s at once; %llu established %s flow%s keep%s %s backend until "
			 "%s end%s (sticky; with --reset they are re-decided at once).",
			 r->champion, act, r->challenger, act == 1 ? "" : "s", act == 1 ? "s" : "",
			 act == 1 ? "its" : "their", act == 1 ? "it" : "they", act == 1 ? "s" : "");
		break;
	case SL_STRAT_BLUE_GREEN:
		snprintf(out->rollback, sizeof(out->rollback), "Rollback: `switch %s %s` moves 100 "
			 "%% of new flows back to %s at once; %s is still configured.", r->name,
			 r->challenger, r->challenger, r->challenger);
		break;
	default:
		if (u->n)
			snprintf(out->rollback, sizeof(out->rollback), "Rollback: nothing to roll "
				 "back; undo restores generation %u (share %.2f %%).",
				 u->e[u->n - 1].gen, u->e[u->n - 1].st.share_bp / 100.0);
		else
			snprintf(out->rollback, sizeof(out->rollback), "Rollback: nothing to roll "
				 "back; nothing to undo.");
	}
}

json_t *sl_state_rollout_json(const struct sl_state *st, int svc, uint64_t now_ms)
{
	const struct sl_rollout *r = &st->svc[svc].ro;
	uint64_t d;
	json_t *o;

	if (r->state == SL_RO_NONE)
		return json_null();
	o = sl_ro_to_json(r);
	if (!o)
		return NULL;
	json_object_set_new(o, "service", json_string(st->svc[svc].st.name));
	json_object_set_new(o, "nsteps", json_integer(r->nsteps));
	if (r->step < r->nsteps)
		json_object_set_new(o, "step_share_bp", json_integer(r->steps[r->step].share_bp));
	d = sl_ro_deadline(r);
	json_object_set_new(o, "next_step_in_ms", d == UINT64_MAX ? json_null() :
			    json_integer(d > now_ms ? (json_int_t)(d - now_ms) : 0));
	return o;
}

json_t *sl_state_status_json(const struct sl_state *st, int svc, uint64_t now_ms)
{
	const struct sl_svc_rec *r = &st->svc[svc].st;
	struct sl_sentences s;
	struct sl_measure m;
	json_t *nf, *af, *sh, *o;

	sl_state_measure(st, svc, &m);
	sl_state_sentences(st, svc, &s);
	nf = json_object();
	af = json_object();
	if (!nf || !af) {
		json_decref(nf);
		json_decref(af);
		return NULL;
	}
	if (st->nsamples >= 2) {
		json_object_set_new(nf, r->champion, json_integer((json_int_t)m.champion_flows));
		json_object_set_new(nf, r->challenger,
				    json_integer((json_int_t)m.challenger_flows));
	}
	json_object_set_new(af, r->champion, json_integer((json_int_t)m.champion_active));
	json_object_set_new(af, r->challenger, json_integer((json_int_t)m.challenger_active));
	o = json_pack("{s:o, s:I, s:i, s:o, s:i, s:o, s:o, s:o, s:{s:s, s:s, s:s}}",
			 "state", sl_svc_json(r), "gen", (json_int_t)st->svc[svc].gen,
			 "configured_share_bp", (int)r->share_bp,
			 "measured_share_bp", m.measured ? json_integer(m.share_bp) : json_null(),
			 "interval_s", (int)m.interval_s, "new_flows", nf, "active_flows", af,
			 "rollout", sl_state_rollout_json(st, svc, now_ms),
			 "sentences", "challenger_output", s.challenger_output, "live_share",
			 s.live_share, "rollback", s.rollback);
	/* the service's shadow rules, when it has some */
	sh = NULL;
	for (unsigned k = 0; k < st->shadows.n && o; k++) {
		if (!st->shadows.r[k].name[0] || strcmp(st->shadows.r[k].service, r->name))
			continue;
		if (!sh) {
			sh = json_array();
			json_object_set_new(o, "shadows", sh);
		}
		json_array_append_new(sh, sl_shadow_json(&st->shadows.r[k], k));
	}
	return o;
}
