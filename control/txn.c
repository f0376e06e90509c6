/* A planned transaction rendered into st->out, committed as the state in
 * force, and its journal entry (see state.h). */
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "config.h"
#include "journal.h"
#include "state.h"
#include "state_int.h"
#include "tables.h"

/* The rule set of t into st->out, by the indexes of the table src. */
static int render_shadows(struct sl_state *st, const struct sl_txn *t,
			  const struct sl_table_hdr *src, char *err, size_t errlen)
{
	struct sl_cfg_shadow rules[SL_MAX_SHADOWS];

	memset(rules, 0, sizeof(rules));
	for (unsigned r = 0; r < t->shadows.n; r++) {
		const struct sl_shadow_rule *x = &t->shadows.r[r];
		struct sl_cfg_shadow *cs = &rules[r];
		int si, p;

		if (!x->name[0])
			continue;
		si = sl_st_hdr_service(src, x->service);
		p = sl_st_hdr_port(src, x->port);
		if (si < 0 || p < 0)
			return sl_seterr(err, errlen, "shadow rule %s: %s %s is not in the table",
				      x->name, si < 0 ? "service" : "port",
				      si < 0 ? x->service : x->port);
		snprintf(cs->name, sizeof(cs->name), "%s", x->name);
		cs->service = (uint8_t)si;
		cs->port = (uint8_t)p;
		cs->has_mac = x->has_mac;
		memcpy(cs->mac, x->mac, 6);
		cs->sample_bp = x->sample_bp;
		snprintf(cs->filter, sizeof(cs->filter), "%s", x->filter);
	}
	sl_tables_shadows(st->out, rules, t->shadows.n);
	st->out->shadow_gen = t->shadow_changed ? t->gen : st->shadow_gen;
	return 0;
}

int sl_txn_render(struct sl_state *st, const struct sl_txn *t, char *err, size_t errlen)
{
	const struct sl_table_hdr *src = t->reload ? st->nbase : st->base;
	const struct sl_group_rec *sg = t->reload ? st->nbase_groups : st->base_groups;

	memcpy(st->out, src, sizeof(*st->out));
	memcpy(st->out_groups, sg, src->ngroups * sizeof(*sg));
	st->out->gen = t->gen;
	if (t->slices_changed) {
		st->out->nslices = t->nslices;
		memcpy(st->out->slices, t->slices, sizeof(st->out->slices));
	}
	if (t->nservices != src->nservices)
		return sl_seterr(err, errlen, "internal: %u service states for a table of %u",
			      t->nservices, src->nservices);
	for (unsigned s = 0; s < src->nservices; s++) {
		struct sl_service_rec *r = &st->out->services[s];
		const struct sl_svc *n = &t->next[s];
		int c, h;

		if (strcmp(n->st.name, r->name))
			return sl_seterr(err, errlen, "internal: service index %u is '%s' in the "
				      "table and '%s' in the state", s, r->name, n->st.name);
		if (!r->name[0])
			continue;
		c = sl_st_group_in(src, sg, n->st.champion);
		h = sl_st_group_in(src, sg, n->st.challenger);
		if (c < 0 || h < 0)
			return sl_seterr(err, errlen, "service %s: group %s is not in the table",
				      r->name, c < 0 ? n->st.champion : n->st.challenger);
		r->champion = (uint8_t)c;
		r->challenger = (uint8_t)h;
		r->share_bp = n->st.share_bp;
		r->reset_gen = n->reset_gen;
	}
	return render_shadows(st, t, src, err, errlen);
}

void sl_txn_commit(struct sl_state *st, const struct sl_txn *t)
{
	unsigned n = t->nservices > st->nservices ? t->nservices : st->nservices;

	for (unsigned s = 0; s < n; s++) {
		const struct sl_svc *o = &st->svc[s], *x = &t->next[s];

		if (t->undo == SL_UNDO_CLEAR || strcmp(o->st.name, x->st.name)) {
			memset(&st->undo[s], 0, sizeof(st->undo[s]));
			continue;
		}
		if (t->undo == SL_UNDO_PUSH && o->st.name[0] && !sl_st_split_eq(&o->st, &x->st))
			sl_st_undo_push(&st->undo[s], &o->st, st->gen);
	}
	if (t->undo == SL_UNDO_POP && t->svc >= 0 && st->undo[t->svc].n)
		st->undo[t->svc].n--;
	memcpy(st->svc, t->next, sizeof(st->svc));
	st->nservices = t->nservices;
	st->shadows = t->shadows;
	if (t->shadow_changed && t->publish)
		st->shadow_gen = t->gen;
	/* a reload places the file's rules by the names at each slot now */
	if (t->shadow_changed && t->publish && !t->reload) {
		st->base->nshadows = st->out->nshadows;
		memcpy(st->base->shadows, st->out->shadows, sizeof(st->base->shadows));
	}
	/* as a replay of the entry sets slices_replayed */
	if (t->slices_changed && t->svc >= 0)
		st->slices_by_command = 1;
	else if (t->svc < 0 && t->shadow_op == SL_SHADOW_NONE)
		st->slices_by_command = 0;
	if (t->slices_changed && t->publish) {
		st->base->nslices = t->nslices;
		memcpy(st->base->slices, t->slices, sizeof(st->base->slices));
	}
	if (t->reload) {
		struct sl_table_hdr *h = st->base;
		struct sl_group_rec *g = st->base_groups;

		st->base = st->nbase;
		st->base_groups = st->nbase_groups;
		st->nbase = h;
		st->nbase_groups = g;
		sl_st_window_reset(st);
	}
	if (t->publish)
		st->gen = t->gen;
}

/* ---- JSON ---- */

static json_t *ro_or_null(const struct sl_rollout *r)
{
	return r->state == SL_RO_NONE ? json_null() : sl_ro_to_json(r);
}

json_t *sl_txn_journal(const struct sl_state *st, const struct sl_txn *t, const char *cmd,
		       json_t *actor, uint64_t now_ms)
{
	char when[32];
	json_t *e;

	sl_journal_time(when, sizeof(when), now_ms);
	e = json_pack("{s:s, s:I, s:s}", "time", when, "gen", (json_int_t)t->gen, "cmd", cmd);
	if (!e) {
		json_decref(actor);
		return NULL;
	}
	if (t->shadow_op != SL_SHADOW_NONE) {
		/* the rule added or removed, and the rule set after the change */
		const struct sl_shadow_rule *r = t->shadow_op == SL_SHADOW_ADD ?
			&t->shadows.r[t->shadow_slot] : &st->shadows.r[t->shadow_slot];

		json_object_set_new(e, "service", json_string(r->service));
		json_object_set_new(e, "actor", actor);
		json_object_set_new(e, "shadow", sl_shadow_json(r, (unsigned)t->shadow_slot));
		json_object_set_new(e, "shadows", sl_st_shadows_json(&t->shadows));
		json_object_set_new(e, "shadow_gen", json_integer(t->gen));
		json_object_set_new(e, "reason", sl_json_str(t->reason));
	} else if (t->svc >= 0) {
		const struct sl_svc *n = &t->next[t->svc];

		json_object_set_new(e, "service", json_string(n->st.name));
		json_object_set_new(e, "actor", actor);
		json_object_set_new(e, "before", sl_svc_json(&st->svc[t->svc].st));
		json_object_set_new(e, "after", sl_svc_json(&n->st));
		json_object_set_new(e, "reason", sl_json_str(t->reason));
		json_object_set_new(e, "rollout", ro_or_null(&n->ro));
		json_object_set_new(e, "reset_gen", json_integer(n->reset_gen));
	} else {
		json_t *list = json_array();
		unsigned n = t->nservices > st->nservices ? t->nservices : st->nservices;
		int snapshot = t->undo == SL_UNDO_CLEAR || !strcmp(cmd, "init");

		json_object_set_new(e, "actor", actor);
		for (unsigned s = 0; s < n && list; s++) {
			const struct sl_svc *o = &st->svc[s], *x = &t->next[s];
			int same = !strcmp(o->st.name, x->st.name);
			json_t *item;

			if (!o->st.name[0] && !x->st.name[0])
				continue;
			/* A service gone and another at its index: two items. */
			if (!snapshot && o->st.name[0] && !same)
				json_array_append_new(list, json_pack("{s:o, s:n, s:n}", "before",
								      sl_svc_json(&o->st), "after",
								      "rollout"));
			if (!x->st.name[0])
				continue;
			item = json_pack("{s:o, s:o, s:o, s:I}", "before",
					 (!snapshot && same) ? sl_svc_json(&o->st) : json_null(),
					 "after", sl_svc_json(&x->st), "rollout", ro_or_null(&x->ro),
					 "reset_gen", (json_int_t)x->reset_gen);
			json_array_append_new(list, item);
		}
		json_object_set_new(e, "services", list ? list : json_null());
		json_object_set_new(e, "shadows", sl_st_shadows_json(&t->shadows));
		json_object_set_new(e, "shadow_gen", json_integer(t->shadow_changed ? t->gen :
								  st->shadow_gen));
		json_object_set_new(e, "reason", sl_json_str(t->reason));
		if (t->note[0])
			json_object_set_new(e, "note", sl_json_str(t->note));
	}
	return e;
}

json_t *sl_state_checkpoint(const struct sl_state *st, const char *reason, uint64_t now_ms)
{
	json_t *e, *list = json_array();
	char when[32];

	sl_journal_time(when, sizeof(when), now_ms);
	for (unsigned i = 0; i < st->nservices && list; i++) {
		const struct sl_svc *s = &st->svc[i];
		const struct sl_undo *u = &st->undo[i];
		json_t *undo = json_array();

		if (!s->st.name[0])
			continue;
		for (uint32_t k = 0; k < u->n && undo; k++)
			json_array_append_new(undo, json_pack("{s:o, s:I}", "state",
							      sl_svc_json(&u->e[k].st), "gen",
							      (json_int_t)u->e[k].gen));
		json_array_append_new(list, json_pack("{s:i, s:o, s:o, s:I, s:I, s:o}", "index",
						      (int)i, "after", sl_svc_json(&s->st),
						      "rollout", ro_or_null(&s->ro), "reset_gen",
						      (json_int_t)s->reset_gen, "gen",
						      (json_int_t)s->gen, "undo",
						      undo ? undo : json_null()));
	}
	e = json_pack("{s:s, s:I, s:s, s:s, s:I, s:o, s:o, s:I}", "time", when, "gen",
		      (json_int_t)st->gen, "cmd", "checkpoint", "actor", "daemon", "nservices",
		      (json_int_t)st->nservices, "services", list ? list : json_null(),
		      "shadows", sl_st_shadows_json(&st->shadows), "shadow_gen",
		      (json_int_t)st->shadow_gen);
	if (e && st->slices_by_command)
		json_object_set_new(e, "slices", sl_slices_json(st->base, st->base->slices,
								st->base->nslices));
	if (e)
		json_object_set_new(e, "reason", sl_json_str(reason));
	return e;
}
