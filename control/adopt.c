/* Adopting a table (e.g. the pinned one) or a laid-out configuration as
 * the state's base, the replayed states put at its indexes; a fresh state
 * from a configuration; journal replay (see state.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "config.h"
#include "state.h"
#include "state_int.h"
#include "tables.h"

/* ---- states ---- */

static void rec_from_table(struct sl_svc *s, const struct sl_service_rec *r,
			   const struct sl_group_rec *groups, uint32_t gen)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->st.name, sizeof(s->st.name), "%s", r->name);
	snprintf(s->st.champion, sizeof(s->st.champion), "%s", groups[r->champion].name);
	snprintf(s->st.challenger, sizeof(s->st.challenger), "%s", groups[r->challenger].name);
	s->st.share_bp = r->share_bp;
	s->st.strategy = r->share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	s->reset_gen = r->reset_gen;
	s->gen = gen;
}

/* Shadow rules with the states: the journal's when it is ahead of the
 * table (those whose service or port the table lacks are dropped), else
 * the table's. */
static void adopt_shadows(struct sl_state *st, enum sl_adopt how, char *note, size_t notelen)
{
	const struct sl_table_hdr *h = st->base;
	struct sl_shadows *t;

	if (how == SL_ADOPT_JOURNAL && st->shadows_replayed) {
		for (unsigned r = 0; r < st->shadows.n; r++) {
			struct sl_shadow_rule *x = &st->shadows.r[r];

			if (!x->name[0] || (sl_st_hdr_service(h, x->service) >= 0 &&
					    sl_st_hdr_port(h, x->port) >= 0))
				continue;
			sl_st_note_add(note, notelen, "shadow rule %s of the journal names %s %s, "
				       "not in the table: dropped", x->name,
				       sl_st_hdr_service(h, x->service) < 0 ? "service" : "port",
				       sl_st_hdr_service(h, x->service) < 0 ? x->service : x->port);
			memset(x, 0, sizeof(*x));
		}
		sl_st_shadows_trim(&st->shadows);
		return;
	}
	t = malloc(sizeof(*t));
	if (!t)
		return;
	sl_st_shadows_from_hdr(t, h);
	if (how == SL_ADOPT_CHECK && st->shadows_replayed && !sl_st_shadows_eq(t, &st->shadows))
		sl_st_note_add(note, notelen, "the journal's shadow rules differ from the "
			       "table's (the table's kept)");
	st->shadows = *t;
	st->shadow_gen = h->shadow_gen;
	free(t);
}

/* The slices of the journal's last slice_add / slice_remove on a table
 * built from the file (those whose service it lacks are dropped). */
static void adopt_slices(struct sl_state *st, char *note, size_t notelen)
{
	struct sl_table_hdr *h = st->base;

	memset(h->slices, 0, sizeof(h->slices));
	h->nslices = 0;
	for (unsigned k = 0; k < st->rnslices && k < SL_MAX_SLICES; k++) {
		int s;

		if (!st->rslices[k].name[0])
			continue;
		s = sl_st_hdr_service(h, st->rslice_svc[k]);
		if (s < 0) {
			sl_st_note_add(note, notelen, "slice %s of the journal names service %s, not "
				       "in the table: dropped", st->rslices[k].name,
				       st->rslice_svc[k]);
			continue;
		}
		h->slices[k] = st->rslices[k];
		h->slices[k].service = (uint8_t)s;
		h->nslices = (uint16_t)(k + 1);
	}
}

/* Put the replayed states at the indexes of the table in st->base. */
static int adopt(struct sl_state *st, enum sl_adopt how, uint32_t gen, char *note,
		 size_t notelen, char *err, size_t errlen)
{
	const struct sl_table_hdr *h = st->base;
	const struct sl_group_rec *g = st->base_groups;
	struct sl_svc *old = malloc(sizeof(st->svc));
	struct sl_undo *oundo = malloc(sizeof(st->undo));
	uint16_t nold = st->nservices;
	uint8_t taken[SL_MAX_SERVICES] = { 0 };

	if (!old || !oundo) {
		free(old);
		free(oundo);
		return sl_seterr(err, errlen, "out of memory");
	}
	memcpy(old, st->svc, sizeof(st->svc));
	memcpy(oundo, st->undo, sizeof(st->undo));
	memset(st->svc, 0, sizeof(st->svc));
	memset(st->undo, 0, sizeof(st->undo));
	for (unsigned i = 0; i < h->nservices; i++) {
		const struct sl_service_rec *r = &h->services[i];
		struct sl_svc *s = &st->svc[i];
		int k = -1;

		if (!r->name[0])
			continue;
		if (r->champion >= h->ngroups || r->challenger >= h->ngroups ||
		    !g[r->champion].name[0] || !g[r->challenger].name[0]) {
			free(old);
			free(oundo);
			return sl_seterr(err, errlen, "table generation %u: service %s names group "
				      "indexes %u and %u of %u", h->gen, r->name, r->champion,
				      r->challenger, h->ngroups);
		}
		rec_from_table(s, r, g, gen);
		if (how == SL_ADOPT_TABLE)
			continue;
		for (int j = 0; j < nold; j++)
			if (!taken[j] && !strcmp(old[j].st.name, r->name)) {
				k = j;
				break;
			}
		if (k < 0)
			continue;
		taken[k] = 1;
		st->undo[i] = oundo[k];
		if (how == SL_ADOPT_JOURNAL && sl_st_group_in(h, g, old[k].st.champion) >= 0 &&
		    sl_st_group_in(h, g, old[k].st.challenger) >= 0) {
			*s = old[k];
			continue;
		}
		if (!sl_st_split_eq(&old[k].st, &s->st)) {
			char a[16], b[16];

			sl_st_note_add(note, notelen, "%s: the journal says %s %s / %s, the "
				       "table %s %s / %s (kept)", r->name, old[k].st.champion,
				       sl_share_str(old[k].st.share_bp, a, sizeof(a)),
				       old[k].st.challenger, s->st.champion,
				       sl_share_str(s->st.share_bp, b, sizeof(b)),
				       s->st.challenger);
			/* The split in force wins, the strategy goes with it. */
			s->ro = old[k].ro;
			if (sl_ro_active(&s->ro))
				s->st.strategy = SL_STRAT_ROLLOUT;
			s->gen = old[k].gen;
			continue;
		}
		s->st = old[k].st;
		s->ro = old[k].ro;
		s->gen = old[k].gen;
		if (how == SL_ADOPT_JOURNAL)
			s->reset_gen = old[k].reset_gen;
	}
	/* Generations start again with new maps: a reset generation from
	 * before would re-decide every flow until the count caught up. */
	for (unsigned i = 0; i < h->nservices; i++)
		if (st->svc[i].reset_gen > gen + 1)
			st->svc[i].reset_gen = 0;
	for (int j = 0; j < nold; j++)
		if (old[j].st.name[0] && !taken[j])
			sl_st_note_add(note, notelen, "service %s of the journal is not in the "
				       "table: dropped", old[j].st.name);
	adopt_shadows(st, how, note, notelen);
	st->nservices = h->nservices;
	st->gen = gen;
	sl_st_window_reset(st);
	free(old);
	free(oundo);
	return 0;
}

int sl_state_adopt(struct sl_state *st, const struct sl_table_hdr *hdr,
		   const struct sl_group_rec *groups, enum sl_adopt how, char *note,
		   size_t notelen, char *err, size_t errlen)
{
	if (note && notelen)
		note[0] = '\0';
	if (hdr->layout_version != SL_LAYOUT_VERSION || hdr->ngroups > SL_MAX_GROUPS ||
	    hdr->nservices > SL_MAX_SERVICES || hdr->nports > SL_MAX_PORTS)
		return sl_seterr(err, errlen, "table generation %u is not usable (layout %u, %u "
			      "groups, %u services, %u ports)", hdr->gen, hdr->layout_version,
			      hdr->ngroups, hdr->nservices, hdr->nports);
	if (st->base != hdr)
		memcpy(st->base, hdr, sizeof(*hdr));
	if (st->base_groups != groups)
		memcpy(st->base_groups, groups, hdr->ngroups * sizeof(*groups));
	return adopt(st, how, hdr->gen, note, notelen, err, errlen);
}

int sl_state_adopt_config(struct sl_state *st, const struct sl_config *laid, uint32_t gen,
			  enum sl_adopt how, char *note, size_t notelen, char *err,
			  size_t errlen)
{
	if (note && notelen)
		note[0] = '\0';
	if (sl_tables_build(st->base, st->base_groups, laid, gen, err, errlen))
		return -1;
	if (how == SL_ADOPT_JOURNAL && st->slices_replayed)
		adopt_slices(st, note, notelen);
	return adopt(st, how, gen, note, notelen, err, errlen);
}

int sl_state_from_config(struct sl_state *st, const struct sl_config *cfg, char *err,
			 size_t errlen)
{
	memset(st->svc, 0, sizeof(st->svc));
	memset(st->undo, 0, sizeof(st->undo));
	st->nservices = 0;
	st->shadows_replayed = 0;
	st->slices_replayed = 0;
	if (sl_state_adopt_config(st, cfg, 0, SL_ADOPT_TABLE, NULL, 0, err, errlen))
		return -1;
	return 0;
}

/* ---- journal replay ---- */

static int rec_from_json(struct sl_svc_rec *r, const json_t *o, const char *where, char *err,
			 size_t errlen)
{
	const json_t *share = json_object_get(o, "share_bp");
	const json_t *strat = json_object_get(o, "strategy"), *mode = json_object_get(o, "mode");
	int s;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return sl_seterr(err, errlen, "%s: not a service state", where);
	if (sl_st_name_of(o, "name", r->name, where, err, errlen) ||
	    sl_st_name_of(o, "champion", r->champion, where, err, errlen) ||
	    sl_st_name_of(o, "challenger", r->challenger, where, err, errlen))
		return -1;
	if (!json_is_integer(share) || json_integer_value(share) < 0 ||
	    json_integer_value(share) > SL_SHARE_MAX_BP)
		return sl_seterr(err, errlen, "%s: \"share_bp\" is not 0..10000", where);
	r->share_bp = (uint16_t)json_integer_value(share);
	s = json_is_string(strat) ? sl_st_strategy_from_name(json_string_value(strat)) : -1;
	if (s < 0)
		return sl_seterr(err, errlen, "%s: \"strategy\" is not a strategy", where);
	r->strategy = (uint8_t)s;
	if (!json_is_string(mode) || (strcmp(json_string_value(mode), "sticky") &&
				      strcmp(json_string_value(mode), "reset")))
		return sl_seterr(err, errlen, "%s: \"mode\" is not sticky or reset", where);
	r->reset = !strcmp(json_string_value(mode), "reset");
	return 0;
}

static int replay_slot(struct sl_state *st, const char *name, int create)
{
	int free_slot = -1;

	for (int i = 0; i < st->nservices; i++) {
		if (!strcmp(st->svc[i].st.name, name))
			return i;
		if (!st->svc[i].st.name[0] && free_slot < 0)
			free_slot = i;
	}
	if (!create)
		return -1;
	if (free_slot < 0) {
		if (st->nservices >= SL_MAX_SERVICES)
			return -1;
		free_slot = st->nservices++;
	}
	memset(&st->svc[free_slot], 0, sizeof(st->svc[free_slot]));
	memset(&st->undo[free_slot], 0, sizeof(st->undo[free_slot]));
	return free_slot;
}

/* One service of an entry: before/after states (either may be null) and
 * its rollout; push: the entry's command keeps an undo history. */
static int replay_one(struct sl_state *st, const json_t *before, const json_t *after,
		      const json_t *ro, const json_t *reset_gen, uint32_t gen, int undo_op,
		      char *err, size_t errlen)
{
	struct sl_svc_rec b, a;
	struct sl_svc *s;
	int i;

	if (json_is_object(before) && rec_from_json(&b, before, "before", err, errlen))
		return -1;
	if (!json_is_object(after)) {
		if (!json_is_object(before))
			return sl_seterr(err, errlen, "neither \"before\" nor \"after\" is a service "
				      "state");
		i = replay_slot(st, b.name, 0);
		if (i >= 0) {
			memset(&st->svc[i], 0, sizeof(st->svc[i]));
			memset(&st->undo[i], 0, sizeof(st->undo[i]));
		}
		return 0;
	}
	if (rec_from_json(&a, after, "after", err, errlen))
		return -1;
	i = replay_slot(st, a.name, 1);
	if (i < 0)
		return sl_seterr(err, errlen, "more than %u services", SL_MAX_SERVICES);
	s = &st->svc[i];
	if (undo_op == SL_UNDO_PUSH && json_is_object(before) && s->st.name[0] &&
	    !sl_st_split_eq(&s->st, &a))
		sl_st_undo_push(&st->undo[i], &s->st, st->gen);
	if (undo_op == SL_UNDO_POP && st->undo[i].n)
		st->undo[i].n--;
	s->st = a;
	s->gen = gen;
	if (json_is_integer(reset_gen))
		s->reset_gen = (uint32_t)json_integer_value(reset_gen);
	memset(&s->ro, 0, sizeof(s->ro));
	if (ro && !json_is_null(ro) && sl_ro_from_json(&s->ro, ro, err, errlen))
		return -1;
	return 0;
}

/* A checkpoint (sl_state_checkpoint): every state at once, undo
 * histories included. */
static int replay_checkpoint(struct sl_state *st, const json_t *e, uint32_t gen, char *err,
			     size_t errlen)
{
	const json_t *list = json_object_get(e, "services"), *item;
	const json_t *ns = json_object_get(e, "nservices"), *sgen = json_object_get(e, "shadow_gen");
	struct sl_shadows *rules = malloc(sizeof(*rules));
	char sub[SL_ERR_LEN];
	size_t i;

	if (!rules)
		return sl_seterr(err, errlen, "out of memory");
	if (!json_is_array(list) || !json_is_integer(ns) || json_integer_value(ns) < 0 ||
	    json_integer_value(ns) > SL_MAX_SERVICES || !json_is_integer(sgen)) {
		free(rules);
		return sl_seterr(err, errlen, "checkpoint without \"services\", \"nservices\" "
				 "(0..%u) or \"shadow_gen\"", SL_MAX_SERVICES);
	}
	if (sl_st_shadows_from_json(rules, json_object_get(e, "shadows"), sub, sizeof(sub))) {
		free(rules);
		return sl_seterr(err, errlen, "shadows: %s", sub);
	}
	memset(st->svc, 0, sizeof(st->svc));
	memset(st->undo, 0, sizeof(st->undo));
	st->nservices = (uint16_t)json_integer_value(ns);
	json_array_foreach(list, i, item) {
		const json_t *idx = json_object_get(item, "index"), *undo = json_object_get(item, "undo");
		const json_t *u;
		struct sl_svc *s;
		struct sl_undo *ud;
		size_t k;

		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) >= st->nservices || !json_is_array(undo) ||
		    json_array_size(undo) > SL_UNDO_MAX) {
			free(rules);
			return sl_seterr(err, errlen, "services[%zu]: no \"index\" below \"nservices\" "
					 "or no \"undo\" list of at most %u", i, SL_UNDO_MAX);
		}
		s = &st->svc[json_integer_value(idx)];
		ud = &st->undo[json_integer_value(idx)];
		if (s->st.name[0]) {
			free(rules);
			return sl_seterr(err, errlen, "services[%zu]: index %lld twice", i,
					 (long long)json_integer_value(idx));
		}
		if (rec_from_json(&s->st, json_object_get(item, "after"), "after", sub, sizeof(sub)) ||
		    (!json_is_null(json_object_get(item, "rollout")) &&
		     sl_ro_from_json(&s->ro, json_object_get(item, "rollout"), sub, sizeof(sub)))) {
			free(rules);
			return sl_seterr(err, errlen, "services[%zu]: %s", i, sub);
		}
		s->reset_gen = (uint32_t)json_integer_value(json_object_get(item, "reset_gen"));
		s->gen = (uint32_t)json_integer_value(json_object_get(item, "gen"));
		json_array_foreach(undo, k, u) {
			if (rec_from_json(&ud->e[k].st, json_object_get(u, "state"), "undo state", sub,
					  sizeof(sub))) {
				free(rules);
				return sl_seterr(err, errlen, "services[%zu]: undo[%zu]: %s", i, k, sub);
			}
			ud->e[k].gen = (uint32_t)json_integer_value(json_object_get(u, "gen"));
		}
		ud->n = (uint32_t)json_array_size(undo);
	}
	st->slices_replayed = 0;
	if (json_is_array(json_object_get(e, "slices"))) {
		if (sl_slices_from_json(st->rslices, &st->rnslices, st->rslice_svc,
					json_object_get(e, "slices"), sub, sizeof(sub))) {
			free(rules);
			return sl_seterr(err, errlen, "slices: %s", sub);
		}
		st->slices_replayed = 1;
	}
	st->shadows = *rules;
	st->shadows_replayed = 1;
	st->shadow_gen = (uint32_t)json_integer_value(sgen);
	free(rules);
	st->gen = gen;
	return 0;
}

int sl_state_replay(struct sl_state *st, const json_t *e, char *err, size_t errlen)
{
	const char *cmd = json_string_value(json_object_get(e, "cmd"));
	const json_t *list = json_object_get(e, "services"), *item;
	const json_t *shadows = json_object_get(e, "shadows");
	const json_t *sgen = json_object_get(e, "shadow_gen");
	uint32_t gen = (uint32_t)json_integer_value(json_object_get(e, "gen"));
	struct sl_shadows *rules = NULL;
	size_t i;

	if (!cmd)
		return sl_seterr(err, errlen, "no \"cmd\"");
	/* pushed evidence changes no state: guard windows start again after a
	 * restart, from the counts then */
	if (!strcmp(cmd, "evidence_push"))
		return 0;
	if (!strcmp(cmd, "checkpoint"))
		return replay_checkpoint(st, e, gen, err, errlen);
	if (shadows) {
		char sub[SL_ERR_LEN];

		rules = malloc(sizeof(*rules));
		if (!rules)
			return sl_seterr(err, errlen, "out of memory");
		if (sl_st_shadows_from_json(rules, shadows, sub, sizeof(sub))) {
			free(rules);
			return sl_seterr(err, errlen, "shadows: %s", sub);
		}
	}
	if (json_is_array(json_object_get(e, "slices"))) {
		char sub[SL_ERR_LEN];

		if (sl_slices_from_json(st->rslices, &st->rnslices, st->rslice_svc,
					json_object_get(e, "slices"), sub, sizeof(sub))) {
			free(rules);
			return sl_seterr(err, errlen, "slices: %s", sub);
		}
		st->slices_replayed = 1;
	}
	if (json_is_array(list)) {
		int snapshot = !strcmp(cmd, "init") || !strcmp(cmd, "recover");

		/* the file's slices (or the table's) are in force after these */
		st->slices_replayed = 0;

		if (snapshot) {
			memset(st->svc, 0, sizeof(st->svc));
			memset(st->undo, 0, sizeof(st->undo));
			st->nservices = 0;
		}
		json_array_foreach(list, i, item) {
			char sub[SL_ERR_LEN];

			if (replay_one(st, json_object_get(item, "before"),
				       json_object_get(item, "after"),
				       json_object_get(item, "rollout"),
				       json_object_get(item, "reset_gen"), gen,
				       snapshot ? SL_UNDO_NONE : SL_UNDO_PUSH, sub, sizeof(sub))) {
				free(rules);
				return sl_seterr(err, errlen, "services[%zu]: %s", i, sub);
			}
		}
	} else if (json_is_object(json_object_get(e, "after"))) {
		if (replay_one(st, json_object_get(e, "before"), json_object_get(e, "after"),
			       json_object_get(e, "rollout"), json_object_get(e, "reset_gen"),
			       gen, !strcmp(cmd, "undo") ? SL_UNDO_POP : SL_UNDO_PUSH, err,
			       errlen)) {
			free(rules);
			return -1;
		}
	} else if (!rules) {
		return sl_seterr(err, errlen, "%s entry without \"after\" or \"services\"", cmd);
	}
	if (rules) {
		/* the rule set after the entry, whole */
		st->shadows = *rules;
		st->shadows_replayed = 1;
		st->shadow_gen = json_is_integer(sgen) ? (uint32_t)json_integer_value(sgen) : gen;
		free(rules);
	}
	st->gen = gen;
	return 0;
}
