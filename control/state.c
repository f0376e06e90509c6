/* Service states: new and free, lookups by name (services, groups, a
 * table's services and ports), the SERVICE_STATE record (strategy and mode
 * names, split equality, JSON), the undo stack, and the helpers the other
 * files of the module share (state_int.h).  The rest of the module:
 * shadows.c (shadow rules), layout.c (stable indexes, structure diff),
 * adopt.c (adopting a table or a configuration, journal replay),
 * planners.c (the planners, ticks, deadlines), txn.c (render, commit,
 * journal entry), measure.c (measured share, sentences, status JSON).
 * See state.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "state.h"
#include "state_int.h"

static const char *const strategy_names[] = {
	[SL_STRAT_STEADY] = "steady",
	[SL_STRAT_BLUE_GREEN] = "blue-green",
	[SL_STRAT_CANARY] = "canary",
	[SL_STRAT_ROLLOUT] = "rollout",
};

const char *sl_strategy_name(enum sl_strategy s)
{
	return (unsigned)s <= SL_STRAT_ROLLOUT ? strategy_names[s] : "steady";
}

int sl_st_strategy_from_name(const char *s)
{
	for (int i = 0; i <= SL_STRAT_ROLLOUT; i++)
		if (!strcmp(s, strategy_names[i]))
			return i;
	return -1;
}

void sl_st_note_add(char *note, size_t len, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (!note || !len)
		return;
	n = strlen(note);
	if (n && n + 2 < len) {
		memcpy(note + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(note + n, len - n, fmt, ap);
	va_end(ap);
}

int sl_st_hdr_service(const struct sl_table_hdr *h, const char *name)
{
	for (int i = 0; i < h->nservices; i++)
		if (h->services[i].name[0] && !strcmp(h->services[i].name, name))
			return i;
	return -1;
}

int sl_st_hdr_port(const struct sl_table_hdr *h, const char *name)
{
	for (int i = 0; i < h->nports && i < SL_MAX_PORTS; i++)
		if (!strncmp(h->port_names[i], name, SL_NAME_LEN))
			return i;
	return -1;
}

/* A name field of a journal entry or reply; where names the object. */
int sl_st_name_of(const json_t *o, const char *key, char *out, const char *where, char *err,
		  size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= SL_NAME_LEN)
		return sl_seterr(err, errlen, "%s: \"%s\" is not a name", where, key);
	snprintf(out, SL_NAME_LEN, "%s", json_string_value(v));
	return 0;
}

struct sl_state *sl_state_new(void)
{
	struct sl_state *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->base = calloc(1, sizeof(*st->base));
	st->nbase = calloc(1, sizeof(*st->nbase));
	st->out = calloc(1, sizeof(*st->out));
	st->base_groups = calloc(SL_MAX_GROUPS, sizeof(*st->base_groups));
	st->nbase_groups = calloc(SL_MAX_GROUPS, sizeof(*st->nbase_groups));
	st->out_groups = calloc(SL_MAX_GROUPS, sizeof(*st->out_groups));
	st->flows = calloc(SL_SHARE_SAMPLES, sizeof(*st->flows));
	st->active = calloc(SL_MAX_SERVICES, sizeof(*st->active));
	if (!st->base || !st->nbase || !st->out || !st->base_groups || !st->nbase_groups ||
	    !st->out_groups || !st->flows || !st->active) {
		sl_state_free(st);
		return NULL;
	}
	return st;
}

void sl_state_free(struct sl_state *st)
{
	if (!st)
		return;
	free(st->base);
	free(st->nbase);
	free(st->out);
	free(st->base_groups);
	free(st->nbase_groups);
	free(st->out_groups);
	free(st->flows);
	free(st->active);
	free(st);
}

int sl_st_group_in(const struct sl_table_hdr *h, const struct sl_group_rec *g, const char *name)
{
	if (!name[0])
		return -1;
	for (int i = 0; i < h->ngroups; i++)
		if (!strcmp(g[i].name, name))
			return i;
	return -1;
}

int sl_state_service(const struct sl_state *st, const char *name)
{
	if (!name[0])
		return -1;
	for (int i = 0; i < st->nservices; i++)
		if (!strcmp(st->svc[i].st.name, name))
			return i;
	return -1;
}

int sl_st_base_group(const struct sl_state *st, const char *name)
{
	return sl_st_group_in(st->base, st->base_groups, name);
}

void sl_state_service_list(const struct sl_state *st, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < st->nservices && n < len; i++)
		if (st->svc[i].st.name[0])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
					      st->svc[i].st.name);
}

int sl_st_split_eq(const struct sl_svc_rec *a, const struct sl_svc_rec *b)
{
	return a->share_bp == b->share_bp && !strcmp(a->champion, b->champion) &&
	       !strcmp(a->challenger, b->challenger);
}

void sl_st_undo_push(struct sl_undo *u, const struct sl_svc_rec *r, uint32_t gen)
{
	if (u->n == SL_UNDO_MAX) {
		memmove(&u->e[0], &u->e[1], (SL_UNDO_MAX - 1) * sizeof(u->e[0]));
		u->n--;
	}
	u->e[u->n].st = *r;
	u->e[u->n].gen = gen;
	u->n++;
}

int sl_state_find_service(const struct sl_state *st, const char *name, struct sl_error *e)
{
	int s = sl_state_service(st, name);
	char list[1024];

	if (s >= 0)
		return s;
	sl_state_service_list(st, list, sizeof(list));
	return sl_error_set(e, SL_E_UNKNOWN_SERVICE, "service", "no service '%s' (services: %s)",
			    name, list);
}

const char *sl_st_mode_name(int reset)
{
	return reset ? "reset" : "sticky";
}

json_t *sl_svc_json(const struct sl_svc_rec *r)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "name", r->name, "champion",
			 r->champion, "challenger", r->challenger, "share_bp", (int)r->share_bp,
			 "strategy", sl_strategy_name(r->strategy), "mode", sl_st_mode_name(r->reset));
}
