/* Service states, their tables, undo history, measured share and the
 * status sentences (see state.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "config.h"
#include "journal.h"
#include "state.h"
#include "tables.h"

static const char *const strategy_names[] = {
	[SL_STRAT_STEADY] = "steady",
	[SL_STRAT_BLUE_GREEN] = "blue-green",
	[SL_STRAT_CANARY] = "canary",
	[SL_STRAT_ROLLOUT] = "rollout",
};

static const char *strategy_name(enum sl_strategy s)
{
	return (unsigned)s <= SL_STRAT_ROLLOUT ? strategy_names[s] : "steady";
}

static int strategy_from_name(const char *s)
{
	for (int i = 0; i <= SL_STRAT_ROLLOUT; i++)
		if (!strcmp(s, strategy_names[i]))
			return i;
	return -1;
}

/* Append to a note buffer ("; " between items). */
static void note_add(char *note, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_add(char *note, size_t len, const char *fmt, ...)
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

/* ---- shadow rules ---- */

static int rule_eq(const struct sl_shadow_rule *a, const struct sl_shadow_rule *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->service, b->service) &&
	       !strcmp(a->port, b->port) && a->sample_bp == b->sample_bp &&
	       a->has_mac == b->has_mac && (!a->has_mac || !memcmp(a->mac, b->mac, 6)) &&
	       !strcmp(a->filter, b->filter);
}

static int shadows_eq(const struct sl_shadows *a, const struct sl_shadows *b)
{
	unsigned n = a->n > b->n ? a->n : b->n;

	for (unsigned r = 0; r < n; r++) {
		const struct sl_shadow_rule *x = &a->r[r], *y = &b->r[r];
		int xu = r < a->n && x->name[0], yu = r < b->n && y->name[0];

		if (xu != yu || (xu && !rule_eq(x, y)))
			return 0;
	}
	return 1;
}

/* The highest used slot + 1. */
static void shadows_trim(struct sl_shadows *s)
{
	while (s->n && !s->r[s->n - 1].name[0])
		s->n--;
}

/* The rules of a table, by names (a record naming no service or port of
 * the table is left out). */
static void shadows_from_hdr(struct sl_shadows *o, const struct sl_table_hdr *h)
{
	memset(o, 0, sizeof(*o));
	for (unsigned r = 0; r < h->nshadows && r < SL_MAX_SHADOWS; r++) {
		const struct sl_shadow_rec *sr = &h->shadows[r];
		struct sl_shadow_rule *x = &o->r[r];

		if (!sr->name[0] || sr->service >= h->nservices ||
		    !h->services[sr->service].name[0] || sr->port >= h->nports)
			continue;
		snprintf(x->name, sizeof(x->name), "%.*s", SL_NAME_LEN - 1, sr->name);
		snprintf(x->service, sizeof(x->service), "%s", h->services[sr->service].name);
		snprintf(x->port, sizeof(x->port), "%.*s", SL_NAME_LEN - 1,
			 h->port_names[sr->port]);
		x->sample_bp = sr->sample_bp;
		x->has_mac = sr->has_mac != 0;
		memcpy(x->mac, sr->mac, 6);
		snprintf(x->filter, sizeof(x->filter), "%.*s", SL_FILTER_LEN - 1, sr->filter);
		o->n = (uint16_t)(r + 1);
	}
}

/* The rules of a laid-out configuration (slots as laid). */
static void shadows_from_cfg(struct sl_shadows *o, const struct sl_config *c)
{
	memset(o, 0, sizeof(*o));
	for (unsigned r = 0; r < c->nshadows && r < SL_MAX_SHADOWS; r++) {
		const struct sl_cfg_shadow *cs = &c->shadows[r];
		struct sl_shadow_rule *x = &o->r[r];

		if (!cs->name[0])
			continue;
		snprintf(x->name, sizeof(x->name), "%s", cs->name);
		snprintf(x->service, sizeof(x->service), "%s", c->services[cs->service].name);
		snprintf(x->port, sizeof(x->port), "%s", c->ports[cs->port].name);
		x->sample_bp = cs->sample_bp;
		x->has_mac = cs->has_mac;
		memcpy(x->mac, cs->mac, 6);
		snprintf(x->filter, sizeof(x->filter), "%s", cs->filter);
		o->n = (uint16_t)(r + 1);
	}
}

static int hdr_service(const struct sl_table_hdr *h, const char *name)
{
	for (int i = 0; i < h->nservices; i++)
		if (h->services[i].name[0] && !strcmp(h->services[i].name, name))
			return i;
	return -1;
}

static int hdr_port(const struct sl_table_hdr *h, const char *name)
{
	for (int i = 0; i < h->nports && i < SL_MAX_PORTS; i++)
		if (!strncmp(h->port_names[i], name, SL_NAME_LEN))
			return i;
	return -1;
}

int sl_state_shadow(const struct sl_state *st, const char *name)
{
	for (int r = 0; r < st->shadows.n; r++)
		if (st->shadows.r[r].name[0] && !strcmp(st->shadows.r[r].name, name))
			return r;
	return -1;
}

void sl_shadow_describe(const struct sl_shadow_rule *r, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%.2f %% of %s's flows", r->sample_bp / 100.0,
				    r->service);

	if (n < len && r->filter[0])
		n += (size_t)snprintf(buf + n, len - n, " matching '%s'", r->filter);
	if (n < len)
		n += (size_t)snprintf(buf + n, len - n, " -> port %s", r->port);
	if (n < len && r->has_mac)
		snprintf(buf + n, len - n, " (copies to %02x:%02x:%02x:%02x:%02x:%02x)", r->mac[0],
			 r->mac[1], r->mac[2], r->mac[3], r->mac[4], r->mac[5]);
}

json_t *sl_shadow_json(const struct sl_shadow_rule *r, unsigned slot)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", r->mac[0], r->mac[1],
		 r->mac[2], r->mac[3], r->mac[4], r->mac[5]);
	return json_pack("{s:s, s:i, s:s, s:o, s:i, s:s, s:o}", "name", r->name, "index",
			 (int)slot, "service", r->service, "filter", sl_json_str(r->filter),
			 "sample_bp", (int)r->sample_bp, "port", r->port, "mac",
			 r->has_mac ? json_string(mac) : json_null());
}

/* A name field of a journal entry or reply; where names the object. */
static int name_of(const json_t *o, const char *key, char *out, const char *where, char *err,
		   size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= SL_NAME_LEN)
		return sl_seterr(err, errlen, "%s: \"%s\" is not a name", where, key);
	snprintf(out, SL_NAME_LEN, "%s", json_string_value(v));
	return 0;
}

int sl_shadow_from_json(struct sl_shadow_rule *r, unsigned *slot, const json_t *o, char *err,
			size_t errlen)
{
	const json_t *idx = json_object_get(o, "index"), *bp = json_object_get(o, "sample_bp");
	const json_t *f = json_object_get(o, "filter"), *mac = json_object_get(o, "mac");

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return sl_seterr(err, errlen, "shadow rule: not an object");
	if (name_of(o, "name", r->name, "shadow rule", err, errlen) ||
	    name_of(o, "service", r->service, "shadow rule", err, errlen) ||
	    name_of(o, "port", r->port, "shadow rule", err, errlen))
		return -1;
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	    json_integer_value(idx) >= SL_MAX_SHADOWS)
		return sl_seterr(err, errlen, "shadow rule %s: \"index\" is not 0..%u", r->name,
			      SL_MAX_SHADOWS - 1);
	*slot = (unsigned)json_integer_value(idx);
	if (!json_is_integer(bp) || json_integer_value(bp) < 0 ||
	    json_integer_value(bp) > SL_SHARE_MAX_BP)
		return sl_seterr(err, errlen, "shadow rule %s: \"sample_bp\" is not 0..10000",
			      r->name);
	r->sample_bp = (uint16_t)json_integer_value(bp);
	if (!json_is_string(f) || json_string_length(f) >= SL_FILTER_LEN)
		return sl_seterr(err, errlen, "shadow rule %s: \"filter\" is not a filter", r->name);
	snprintf(r->filter, sizeof(r->filter), "%s", json_string_value(f));
	if (json_is_string(mac)) {
		if (sl_mac_parse(json_string_value(mac), r->mac))
			return sl_seterr(err, errlen, "shadow rule %s: \"mac\" is not a MAC address",
				      r->name);
		r->has_mac = 1;
	} else if (mac && !json_is_null(mac)) {
		return sl_seterr(err, errlen, "shadow rule %s: \"mac\" is not a MAC address or null",
			      r->name);
	}
	return 0;
}

static json_t *shadows_json(const struct sl_shadows *s)
{
	json_t *a = json_array();

	for (unsigned r = 0; r < s->n && a; r++)
		if (s->r[r].name[0])
			json_array_append_new(a, sl_shadow_json(&s->r[r], r));
	return a;
}

static int shadows_from_json(struct sl_shadows *o, const json_t *a, char *err, size_t errlen)
{
	const json_t *item;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (!json_is_array(a))
		return sl_seterr(err, errlen, "\"shadows\" is not an array");
	json_array_foreach(a, i, item) {
		struct sl_shadow_rule r;
		unsigned slot;

		if (sl_shadow_from_json(&r, &slot, item, err, errlen))
			return -1;
		if (o->r[slot].name[0])
			return sl_seterr(err, errlen, "shadow rules %s and %s at one index %u",
				      o->r[slot].name, r.name, slot);
		o->r[slot] = r;
		if (slot + 1u > o->n)
			o->n = (uint16_t)(slot + 1);
	}
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

static int group_in(const struct sl_table_hdr *h, const struct sl_group_rec *g, const char *name)
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

static int base_group(const struct sl_state *st, const char *name)
{
	return group_in(st->base, st->base_groups, name);
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

/* ---- stable indexes ---- */

static int ports_check(const struct sl_config *cfg, const struct sl_config *old,
		       const struct sl_table_hdr *prev, char *err, size_t errlen)
{
	char have[SL_MAX_PORTS * (SL_NAME_LEN + 2)] = "", want[sizeof(have)] = "";
	size_t a = 0, b = 0;
	int same = cfg->nports == prev->nports;

	for (unsigned p = 0; p < cfg->nports && same; p++)
		same = !strcmp(cfg->ports[p].name, prev->port_names[p]);
	if (!same) {
		for (unsigned p = 0; p < prev->nports; p++)
			a += (size_t)snprintf(have + a, sizeof(have) - a, "%s%s", p ? ", " : "",
					      prev->port_names[p]);
		for (unsigned p = 0; p < cfg->nports; p++)
			b += (size_t)snprintf(want + b, sizeof(want) - b, "%s%s", p ? ", " : "",
					      cfg->ports[p].name);
		return sl_seterr(err, errlen, "%s: the ports may not change at run time: the table "
			      "in force has ports %s, the file has %s (restart sluice-dp and "
			      "sluiced to change ports)", cfg->path, have, want);
	}
	if (!old)
		return 0;
	for (unsigned p = 0; p < cfg->nports; p++) {
		const struct sl_cfg_port *n = &cfg->ports[p], *o = &old->ports[p];

		if (p >= old->nports || strcmp(n->name, o->name))
			break;
		if (n->role != o->role)
			return sl_seterr(err, errlen, "%s: [port %s] role: the ports may not change at "
				      "run time (restart sluice-dp and sluiced to change ports)",
				      cfg->path, n->name);
		if (strcmp(n->devargs, o->devargs))
			return sl_seterr(err, errlen, "%s: [port %s] devargs: the ports may not change "
				      "at run time ('%s' in force, '%s' in the file; restart "
				      "sluice-dp and sluiced to change ports)", cfg->path, n->name,
				      o->devargs, n->devargs);
	}
	return 0;
}

/* map[i]: stable index of the i-th name of the file.  prev_names(k) gives
 * the name at index k of the previous table. */
static unsigned place(unsigned n, const char *(*name)(const void *, unsigned), const void *c,
		      unsigned nprev, const char *(*prev_name)(const void *, unsigned),
		      const void *p, unsigned max, uint8_t *map, uint32_t *used)
{
	unsigned top = 0;

	memset(used, 0, ((max + 31) / 32) * sizeof(*used));
	for (unsigned i = 0; i < n; i++) {
		map[i] = 0xff;
		for (unsigned k = 0; k < nprev; k++) {
			if (strcmp(prev_name(p, k), name(c, i)))
				continue;
			map[i] = (uint8_t)k;
			used[k / 32] |= 1u << (k % 32);
			break;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = 0;

		if (map[i] != 0xff)
			continue;
		while (used[k / 32] & (1u << (k % 32)))
			k++;
		map[i] = (uint8_t)k;
		used[k / 32] |= 1u << (k % 32);
	}
	for (unsigned i = 0; i < n; i++)
		if (map[i] + 1u > top)
			top = map[i] + 1u;
	return top;
}

static const char *cfg_group_name(const void *c, unsigned i)
{
	return ((const struct sl_config *)c)->groups[i].name;
}

static const char *cfg_service_name(const void *c, unsigned i)
{
	return ((const struct sl_config *)c)->services[i].name;
}

static const char *rec_group_name(const void *p, unsigned i)
{
	return ((const struct sl_group_rec *)p)[i].name;
}

static const char *hdr_service_name(const void *p, unsigned i)
{
	return ((const struct sl_table_hdr *)p)->services[i].name;
}

static const char *cfg_shadow_name(const void *c, unsigned i)
{
	return ((const struct sl_config *)c)->shadows[i].name;
}

static const char *hdr_shadow_name(const void *p, unsigned i)
{
	return ((const struct sl_table_hdr *)p)->shadows[i].name;
}

int sl_state_layout(const struct sl_config *cfg, const struct sl_config *old,
		    const struct sl_table_hdr *prev, const struct sl_group_rec *prev_groups,
		    struct sl_config *out, uint32_t *removed, char *err, size_t errlen)
{
	uint8_t gmap[SL_MAX_GROUPS], smap[SL_MAX_SERVICES], rmap[SL_MAX_SHADOWS];
	uint32_t used[SL_MAX_SERVICES / 32];
	unsigned ng, ns, nr;

	if (removed)
		*removed = 0;
	if (out != cfg)
		memcpy(out, cfg, sizeof(*out));
	if (!prev)
		return 0;
	if (ports_check(cfg, old, prev, err, errlen))
		return -1;
	ng = place(cfg->ngroups, cfg_group_name, cfg, prev->ngroups, rec_group_name,
		   prev_groups, SL_MAX_GROUPS, gmap, used);
	ns = place(cfg->nservices, cfg_service_name, cfg, prev->nservices, hdr_service_name, prev,
		   SL_MAX_SERVICES, smap, used);
	/* shadow rules keep their slot (the dataplane counts per slot) */
	nr = place(cfg->nshadows, cfg_shadow_name, cfg,
		   prev->nshadows < SL_MAX_SHADOWS ? prev->nshadows : SL_MAX_SHADOWS,
		   hdr_shadow_name, prev, SL_MAX_SHADOWS, rmap, used);
	if (removed)
		for (unsigned k = 0; k < prev->ngroups; k++)
			if (prev_groups[k].name[0] && sl_config_group(cfg, prev_groups[k].name) < 0)
				*removed |= 1u << k;

	memset(out->groups, 0, sizeof(out->groups));
	memset(out->services, 0, sizeof(out->services));
	out->ngroups = (uint16_t)ng;
	out->nservices = (uint16_t)ns;
	for (unsigned i = 0; i < cfg->ngroups; i++)
		out->groups[gmap[i]] = cfg->groups[i];
	for (unsigned i = 0; i < cfg->nservices; i++) {
		struct sl_cfg_service *s = &out->services[smap[i]];

		*s = cfg->services[i];
		s->champion = gmap[cfg->services[i].champion];
		s->challenger = gmap[cfg->services[i].challenger];
	}
	memset(out->shadows, 0, sizeof(out->shadows));
	out->nshadows = (uint16_t)nr;
	for (unsigned i = 0; i < cfg->nshadows; i++) {
		out->shadows[rmap[i]] = cfg->shadows[i];
		out->shadows[rmap[i]].service = smap[cfg->shadows[i].service];
	}
	/* slices name their service by index too */
	for (unsigned i = 0; i < cfg->nslices; i++)
		out->slices[i].service = smap[cfg->slices[i].service];
	return 0;
}

static int differ(char *what, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int differ(char *what, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, len, fmt, ap);
	va_end(ap);
	return 1;
}

int sl_state_structure_diff(const struct sl_table_hdr *a, const struct sl_group_rec *ag,
			    const struct sl_table_hdr *b, const struct sl_group_rec *bg,
			    char *what, size_t len)
{
	if (a->nports != b->nports)
		return differ(what, len, "%u ports instead of %u", b->nports, a->nports);
	for (unsigned p = 0; p < a->nports; p++)
		if (strcmp(a->port_names[p], b->port_names[p]))
			return differ(what, len, "port %u is '%s' instead of '%s'", p,
				       b->port_names[p], a->port_names[p]);
	if (a->seed_flow != b->seed_flow || a->seed_group != b->seed_group ||
	    a->seed_member != b->seed_member)
		return differ(what, len, "other hash seeds");
	if (a->ngroups != b->ngroups)
		return differ(what, len, "%u group indexes instead of %u", b->ngroups,
			       a->ngroups);
	for (unsigned g = 0; g < a->ngroups; g++) {
		const struct sl_group_rec *x = &ag[g], *y = &bg[g];

		if (strcmp(x->name, y->name))
			return differ(what, len, "group %u is '%s' instead of '%s'", g, y->name,
				       x->name);
		if (x->port != y->port || x->mode != y->mode)
			return differ(what, len, "group %s: other port or mode", x->name);
		if (x->mode != SL_MODE_MAC)
			continue;
		if (x->nmembers != y->nmembers || x->maglev_size != y->maglev_size ||
		    memcmp(x->macs, y->macs, (size_t)x->nmembers * 6) ||
		    memcmp(x->maglev, y->maglev, (size_t)x->maglev_size * sizeof(x->maglev[0])))
			return differ(what, len, "group %s: other members", x->name);
	}
	if (a->nservices != b->nservices)
		return differ(what, len, "%u service indexes instead of %u", b->nservices,
			       a->nservices);
	for (unsigned s = 0; s < a->nservices; s++) {
		const struct sl_service_rec *x = &a->services[s], *y = &b->services[s];

		if (strcmp(x->name, y->name))
			return differ(what, len, "service %u is '%s' instead of '%s'", s, y->name,
				       x->name);
		if (x->family != y->family || x->proto != y->proto || memcmp(x->vip, y->vip, 16) ||
		    x->nranges != y->nranges ||
		    memcmp(x->ranges, y->ranges, x->nranges * sizeof(x->ranges[0])))
			return differ(what, len, "service %s: other proto, vip or ports", x->name);
	}
	if (what && len)
		what[0] = '\0';
	return 0;
}

/* ---- states ---- */

static int split_eq(const struct sl_svc_rec *a, const struct sl_svc_rec *b)
{
	return a->share_bp == b->share_bp && !strcmp(a->champion, b->champion) &&
	       !strcmp(a->challenger, b->challenger);
}

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

static void window_reset(struct sl_state *st)
{
	st->nsamples = 0;
	st->head = 0;
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

			if (!x->name[0] || (hdr_service(h, x->service) >= 0 &&
					    hdr_port(h, x->port) >= 0))
				continue;
			note_add(note, notelen, "shadow rule %s of the journal names %s %s, not in "
				 "the table: dropped", x->name, hdr_service(h, x->service) < 0 ?
				 "service" : "port", hdr_service(h, x->service) < 0 ? x->service :
				 x->port);
			memset(x, 0, sizeof(*x));
		}
		shadows_trim(&st->shadows);
		return;
	}
	t = malloc(sizeof(*t));
	if (!t)
		return;
	shadows_from_hdr(t, h);
	if (how == SL_ADOPT_CHECK && st->shadows_replayed && !shadows_eq(t, &st->shadows))
		note_add(note, notelen, "the journal's shadow rules differ from the table's (the "
			 "table's kept)");
	st->shadows = *t;
	st->shadow_gen = h->shadow_gen;
	free(t);
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
		if (how == SL_ADOPT_JOURNAL && group_in(h, g, old[k].st.champion) >= 0 &&
		    group_in(h, g, old[k].st.challenger) >= 0) {
			*s = old[k];
			continue;
		}
		if (!split_eq(&old[k].st, &s->st)) {
			char a[16], b[16];

			note_add(note, notelen, "%s: the journal says %s %s / %s, the table %s %s "
				 "/ %s (kept)", r->name, old[k].st.champion,
				 sl_share_str(old[k].st.share_bp, a, sizeof(a)),
				 old[k].st.challenger, s->st.champion,
				 sl_share_str(s->st.share_bp, b, sizeof(b)), s->st.challenger);
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
			note_add(note, notelen, "service %s of the journal is not in the table: "
				 "dropped", old[j].st.name);
	adopt_shadows(st, how, note, notelen);
	st->nservices = h->nservices;
	st->gen = gen;
	window_reset(st);
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
	return adopt(st, how, gen, note, notelen, err, errlen);
}

int sl_state_from_config(struct sl_state *st, const struct sl_config *cfg, char *err,
			 size_t errlen)
{
	memset(st->svc, 0, sizeof(st->svc));
	memset(st->undo, 0, sizeof(st->undo));
	st->nservices = 0;
	st->shadows_replayed = 0;
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
	if (name_of(o, "name", r->name, where, err, errlen) ||
	    name_of(o, "champion", r->champion, where, err, errlen) ||
	    name_of(o, "challenger", r->challenger, where, err, errlen))
		return -1;
	if (!json_is_integer(share) || json_integer_value(share) < 0 ||
	    json_integer_value(share) > SL_SHARE_MAX_BP)
		return sl_seterr(err, errlen, "%s: \"share_bp\" is not 0..10000", where);
	r->share_bp = (uint16_t)json_integer_value(share);
	s = json_is_string(strat) ? strategy_from_name(json_string_value(strat)) : -1;
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

static void undo_push(struct sl_undo *u, const struct sl_svc_rec *r, uint32_t gen)
{
	if (u->n == SL_UNDO_MAX) {
		memmove(&u->e[0], &u->e[1], (SL_UNDO_MAX - 1) * sizeof(u->e[0]));
		u->n--;
	}
	u->e[u->n].st = *r;
	u->e[u->n].gen = gen;
	u->n++;
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
	    !split_eq(&s->st, &a))
		undo_push(&st->undo[i], &s->st, st->gen);
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
	if (shadows) {
		char sub[SL_ERR_LEN];

		rules = malloc(sizeof(*rules));
		if (!rules)
			return sl_seterr(err, errlen, "out of memory");
		if (shadows_from_json(rules, shadows, sub, sizeof(sub))) {
			free(rules);
			return sl_seterr(err, errlen, "shadows: %s", sub);
		}
	}
	if (json_is_array(list)) {
		int snapshot = !strcmp(cmd, "init") || !strcmp(cmd, "recover");

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

/* ---- planners ---- */

static void txn_begin(const struct sl_state *st, struct sl_txn *t)
{
	t->gen = st->gen + 1;
	t->publish = 0;
	t->reload = 0;
	t->svc = -1;
	t->undo = SL_UNDO_NONE;
	t->nservices = st->nservices;
	memcpy(t->next, st->svc, sizeof(t->next));
	t->reason[0] = '\0';
	t->note[0] = '\0';
	t->shadows = st->shadows;
	t->shadow_changed = 0;
	t->shadow_op = SL_SHADOW_NONE;
	t->shadow_slot = -1;
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

static const char *ro_where(const struct sl_rollout *r, char *buf, size_t len)
{
	uint16_t bp = r->steps[r->step < SL_RO_MAX_STEPS ? r->step : 0].share_bp;
	char sh[16];

	snprintf(buf, len, "%s at step %u of %u (%s)", sl_ro_state_name(r->state), r->step + 1,
		 r->nsteps, sl_share_str(bp, sh, sizeof(sh)));
	return buf;
}

static int no_rollout(const struct sl_state *st, int s, const char *cmd, struct sl_error *e)
{
	const struct sl_rollout *r = &st->svc[s].ro;
	char where[96];

	if (!sl_ro_active(r))
		return 0;
	return sl_error_set(e, SL_E_BAD_STATE, "service", "%s refused: the rollout of %s is %s; "
			    "abort it (`rollout abort`) or let it complete first", cmd,
			    st->svc[s].st.name, ro_where(r, where, sizeof(where)));
}

/* A planned change of service s: published when its split changes. */
static int finish(const struct sl_state *st, struct sl_txn *t, int s, int reset)
{
	struct sl_svc *n = &t->next[s];

	t->svc = s;
	if (split_eq(&st->svc[s].st, &n->st)) {
		t->next[s] = st->svc[s];
		return 0;
	}
	t->publish = 1;
	t->undo = SL_UNDO_PUSH;
	n->st.reset = (uint8_t)(reset != 0);
	n->gen = t->gen;
	if (reset)
		n->reset_gen = t->gen;
	return 1;
}

static const char *mode_name(int reset)
{
	return reset ? "reset" : "sticky";
}

static int own_group(const struct sl_state *st, int s, const char *group, const char *field,
		     struct sl_error *e)
{
	const struct sl_svc_rec *r = &st->svc[s].st;

	if (!strcmp(group, r->champion) || !strcmp(group, r->challenger))
		return 0;
	if (base_group(st, group) < 0)
		return sl_error_set(e, SL_E_UNKNOWN_GROUP, field, "no group '%s' (service %s has "
				    "champion %s and challenger %s)", group, r->name, r->champion,
				    r->challenger);
	return sl_error_set(e, SL_E_UNKNOWN_GROUP, field, "group '%s' is not one of service %s's "
			    "groups (champion %s, challenger %s)", group, r->name, r->champion,
			    r->challenger);
}

int sl_plan_switch(const struct sl_state *st, struct sl_txn *t, const char *service,
		   const char *group, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	struct sl_svc_rec *n;
	char other[SL_NAME_LEN];

	if (s < 0 || no_rollout(st, s, "switch", e) || own_group(st, s, group, "group", e))
		return -1;
	txn_begin(st, t);
	n = &t->next[s].st;
	snprintf(other, sizeof(other), "%s", strcmp(group, n->champion) ? n->champion :
		 n->challenger);
	snprintf(n->champion, sizeof(n->champion), "%s", group);
	snprintf(n->challenger, sizeof(n->challenger), "%s", other);
	n->share_bp = 0;
	n->strategy = SL_STRAT_BLUE_GREEN;
	snprintf(t->reason, sizeof(t->reason), "switch %s %s (%s)", service, group,
		 mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_canary(const struct sl_state *st, struct sl_txn *t, const char *service,
		   uint16_t share_bp, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	char sh[16];

	if (s < 0 || no_rollout(st, s, "canary", e))
		return -1;
	txn_begin(st, t);
	t->next[s].st.share_bp = share_bp;
	t->next[s].st.strategy = share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	snprintf(t->reason, sizeof(t->reason), "canary %s %s (%s)", service,
		 sl_share_str(share_bp, sh, sizeof(sh)), mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_weights(const struct sl_state *st, struct sl_txn *t, const char *service,
		    const struct sl_weight *w, uint32_t n, int reset, struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	uint16_t share = 0;
	size_t len;
	char sh[16];

	if (s < 0 || no_rollout(st, s, "weights", e))
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		if (own_group(st, s, w[i].group, "weights", e))
			return -1;
		if (!strcmp(w[i].group, st->svc[s].st.challenger))
			share = w[i].share_bp;
		else
			share = (uint16_t)(SL_SHARE_MAX_BP - w[i].share_bp);
	}
	txn_begin(st, t);
	t->next[s].st.share_bp = share;
	t->next[s].st.strategy = share ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	len = (size_t)snprintf(t->reason, sizeof(t->reason), "weights %s", service);
	for (uint32_t i = 0; i < n && len < sizeof(t->reason); i++)
		len += (size_t)snprintf(t->reason + len, sizeof(t->reason) - len, " %s=%s",
					w[i].group, sl_share_str(w[i].share_bp, sh, sizeof(sh)));
	if (len < sizeof(t->reason))
		snprintf(t->reason + len, sizeof(t->reason) - len, " (%s)", mode_name(reset));
	return finish(st, t, s, reset);
}

int sl_plan_undo(const struct sl_state *st, struct sl_txn *t, const char *service,
		 struct sl_error *e)
{
	int s = sl_state_find_service(st, service, e);
	const struct sl_undo_ent *top;
	struct sl_svc *n;
	char sh[16];

	if (s < 0 || no_rollout(st, s, "undo", e))
		return -1;
	if (st->undo[s].n == 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "nothing to undo for %s (no "
				    "change of it is left in the history)", service);
	top = &st->undo[s].e[st->undo[s].n - 1];
	if (base_group(st, top->st.champion) < 0 || base_group(st, top->st.challenger) < 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "cannot undo %s: generation %u "
				    "had champion %s and challenger %s, and the configuration no "
				    "longer has both groups", service, top->gen, top->st.champion,
				    top->st.challenger);
	txn_begin(st, t);
	n = &t->next[s];
	n->st = top->st;
	/* The rollout that state belonged to is over: keep its share only. */
	if (n->st.strategy == SL_STRAT_ROLLOUT)
		n->st.strategy = n->st.share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
	n->st.reset = 0;
	snprintf(t->reason, sizeof(t->reason), "undo %s: back to generation %u (%s %s / %s)",
		 service, top->gen, n->st.champion, sl_share_str(n->st.share_bp, sh, sizeof(sh)),
		 n->st.challenger);
	t->svc = s;
	t->undo = SL_UNDO_POP;
	if (split_eq(&st->svc[s].st, &n->st)) {
		t->gen = st->gen; /* the stack still moves: journaled, not published */
	} else {
		t->publish = 1;
	}
	n->gen = t->gen;
	return 1;
}

static void shadow_names(const struct sl_shadows *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned r = 0; r < s->n && n < len; r++)
		if (s->r[r].name[0])
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
					      s->r[r].name);
	if (!n)
		snprintf(buf, len, "none");
}

int sl_plan_shadow_add(const struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		       const struct sl_req *req, struct sl_error *e)
{
	int have = sl_state_shadow(st, req->name), slot = -1, pc;
	char what[640], ports[SL_MAX_PORTS * (SL_NAME_LEN + 2)] = "";
	struct sl_shadow_rule rule;
	size_t n = 0;

	/* the request's names as sent: one that does not fit a rule is refused,
	 * never cut */
	if (!sl_name_valid(req->name))
		return sl_error_set(e, SL_E_BAD_REQUEST, "name", "name '%s' is not a valid shadow "
				    "rule name (expected " SL_NAME_RULE ")", req->name);
	if (sl_state_find_service(st, req->service, e) < 0)
		return -1;
	pc = sl_config_port(cfg, req->port);
	if (pc < 0 || cfg->ports[pc].role != SL_ROLE_SHADOW || hdr_port(st->base, req->port) < 0) {
		for (unsigned p = 0; p < cfg->nports; p++)
			if (cfg->ports[p].role == SL_ROLE_SHADOW &&
			    hdr_port(st->base, cfg->ports[p].name) >= 0 && n < sizeof(ports))
				n += (size_t)snprintf(ports + n, sizeof(ports) - n, "%s%s",
						      n ? ", " : "", cfg->ports[p].name);
		return sl_error_set(e, SL_E_BAD_PORT, "port", "%s '%s' %s (shadow ports: %s)",
				    pc < 0 ? "no port" : "port", req->port,
				    pc < 0 ? "in the configuration" :
				    cfg->ports[pc].role == SL_ROLE_SHADOW ?
				    "is not in the table in force" :
				    cfg->ports[pc].role == SL_ROLE_CLIENT ?
				    "has role client, not shadow" : "has role backend, not shadow",
				    n ? ports : "none configured");
	}
	/* every name fits now (checked, or found in the table): the precisions
	 * cut nothing */
	memset(&rule, 0, sizeof(rule));
	snprintf(rule.name, sizeof(rule.name), "%.*s", SL_NAME_LEN - 1, req->name);
	snprintf(rule.service, sizeof(rule.service), "%.*s", SL_NAME_LEN - 1, req->service);
	snprintf(rule.port, sizeof(rule.port), "%.*s", SL_NAME_LEN - 1, req->port);
	snprintf(rule.filter, sizeof(rule.filter), "%s", req->filter);
	rule.sample_bp = req->sample_bp;
	rule.has_mac = req->has_mac != 0;
	memcpy(rule.mac, req->mac, 6);
	if (have >= 0) {
		if (rule_eq(&st->shadows.r[have], &rule)) {
			txn_begin(st, t);
			t->shadow_op = SL_SHADOW_ADD;
			t->shadow_slot = have;
			return 0;
		}
		sl_shadow_describe(&st->shadows.r[have], what, sizeof(what));
		return sl_error_set(e, SL_E_BAD_STATE, "name", "shadow rule %s exists with another "
				    "definition (%s); remove it first (shadow remove %s)",
				    rule.name, what, rule.name);
	}
	for (int r = 0; r < SL_MAX_SHADOWS && slot < 0; r++)
		if (r >= st->shadows.n || !st->shadows.r[r].name[0])
			slot = r;
	if (slot < 0) {
		shadow_names(&st->shadows, what, sizeof(what));
		return sl_error_set(e, SL_E_BAD_STATE, "name", "%u shadow rules already (%s), the "
				    "most a table holds: remove one first", SL_MAX_SHADOWS, what);
	}
	txn_begin(st, t);
	t->shadows.r[slot] = rule;
	if (slot + 1 > t->shadows.n)
		t->shadows.n = (uint16_t)(slot + 1);
	t->publish = 1;
	t->shadow_changed = 1;
	t->shadow_op = SL_SHADOW_ADD;
	t->shadow_slot = slot;
	sl_shadow_describe(&rule, what, sizeof(what));
	snprintf(t->reason, sizeof(t->reason), "shadow add %s: %.440s", rule.name, what);
	return 1;
}

int sl_plan_shadow_remove(const struct sl_state *st, struct sl_txn *t, const char *name,
			  struct sl_error *e)
{
	int r = sl_state_shadow(st, name);
	char what[640];

	if (r < 0) {
		shadow_names(&st->shadows, what, sizeof(what));
		return sl_error_set(e, SL_E_UNKNOWN_SHADOW, "name", "no shadow rule '%s' (shadow "
				    "rules: %s)", name, what);
	}
	txn_begin(st, t);
	memset(&t->shadows.r[r], 0, sizeof(t->shadows.r[r]));
	shadows_trim(&t->shadows);
	t->publish = 1;
	t->shadow_changed = 1;
	t->shadow_op = SL_SHADOW_REMOVE;
	t->shadow_slot = r;
	sl_shadow_describe(&st->shadows.r[r], what, sizeof(what));
	snprintf(t->reason, sizeof(t->reason), "shadow remove %s (was: %.440s)", name, what);
	return 1;
}

/* The only service with a running or paused rollout. */
static int active_rollout(const struct sl_state *st, struct sl_error *e)
{
	char list[1024];
	size_t n = 0;
	int found = -1, count = 0;

	list[0] = '\0';
	for (int i = 0; i < st->nservices; i++) {
		if (!st->svc[i].st.name[0] || !sl_ro_active(&st->svc[i].ro))
			continue;
		found = i;
		count++;
		if (n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", count > 1 ?
					      ", " : "", st->svc[i].st.name);
	}
	if (count == 1)
		return found;
	if (count == 0)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "no rollout is running or "
				    "paused (start one with rollout_start)");
	return sl_error_set(e, SL_E_BAD_STATE, "service", "rollouts of %s are running or "
			    "paused: name the service", list);
}

/* Apply a rollout action to service s of t.  The rollout moved even when
 * the split stays (a pause): journaled, published only if the split moves. */
static int ro_apply(const struct sl_state *st, struct sl_txn *t, int s,
		    const struct sl_ro_action *a, int reset)
{
	struct sl_svc *n = &t->next[s];

	if (a->complete) {
		char champ[SL_NAME_LEN];

		memcpy(champ, n->st.champion, SL_NAME_LEN);
		memcpy(n->st.champion, n->st.challenger, SL_NAME_LEN);
		memcpy(n->st.challenger, champ, SL_NAME_LEN);
		n->st.share_bp = 0;
	} else if (a->apply) {
		n->st.share_bp = a->share_bp;
	}
	n->st.strategy = sl_ro_active(&n->ro) ? SL_STRAT_ROLLOUT : SL_STRAT_STEADY;
	t->svc = s;
	if (split_eq(&st->svc[s].st, &n->st)) {
		t->gen = st->gen;
	} else {
		t->publish = 1;
		t->undo = SL_UNDO_PUSH;
		n->st.reset = (uint8_t)(reset != 0);
		if (reset)
			n->reset_gen = t->gen;
	}
	n->gen = t->gen;
	return 1;
}

int sl_plan_rollout(const struct sl_state *st, struct sl_txn *t, enum sl_cmd cmd,
		    const char *service, const struct sl_req *req, uint64_t now_ms,
		    struct sl_error *e)
{
	struct sl_ro_action a;
	struct sl_rollout ro;
	char msg[SL_ERR_LEN];
	int s, rc, reset = 0;

	s = service ? sl_state_find_service(st, service, e) : active_rollout(st, e);
	if (s < 0)
		return -1;
	ro = st->svc[s].ro;
	memset(&a, 0, sizeof(a));
	msg[0] = '\0';
	switch (cmd) {
	case SL_CMD_ROLLOUT_START:
		/* For the reasons the rollout writes ("green is champion"). */
		snprintf(ro.challenger, sizeof(ro.challenger), "%s", st->svc[s].st.challenger);
		rc = sl_ro_start(&ro, req->steps, req->nsteps, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_PAUSE:
		rc = sl_ro_pause(&ro, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_RESUME:
		rc = sl_ro_resume(&ro, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_PROMOTE:
		rc = sl_ro_promote(&ro, req->full, now_ms, &a, msg, sizeof(msg));
		break;
	case SL_CMD_ROLLOUT_ABORT:
		rc = sl_ro_abort(&ro, now_ms, &a, msg, sizeof(msg));
		reset = req->reset;
		break;
	default:
		return sl_error_set(e, SL_E_INTERNAL, "cmd", "%s is not a rollout verb",
				    sl_cmd_name(cmd));
	}
	if (rc)
		return sl_error_set(e, SL_E_BAD_STATE, "", "%s %s: %s", sl_cmd_name(cmd),
				    st->svc[s].st.name, msg);
	txn_begin(st, t);
	t->next[s].ro = ro;
	snprintf(t->reason, sizeof(t->reason), "%s: %s", st->svc[s].st.name,
		 a.reason);
	return ro_apply(st, t, s, &a, reset);
}

int sl_plan_tick(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms)
{
	return sl_plan_tick_skip(st, t, now_ms, NULL);
}

int sl_plan_tick_skip(const struct sl_state *st, struct sl_txn *t, uint64_t now_ms,
		      const uint8_t *skip)
{
	for (int s = 0; s < st->nservices; s++) {
		struct sl_rollout ro = st->svc[s].ro;
		struct sl_ro_action a;

		if (!st->svc[s].st.name[0] || (skip && skip[s]) || sl_ro_deadline(&ro) > now_ms)
			continue;
		memset(&a, 0, sizeof(a));
		if (!sl_ro_tick(&ro, now_ms, &a))
			continue;
		txn_begin(st, t);
		t->next[s].ro = ro;
		snprintf(t->reason, sizeof(t->reason), "plan %s: %s", st->svc[s].st.name,
			 a.reason);
		return ro_apply(st, t, s, &a, 0);
	}
	return 0;
}

uint64_t sl_state_deadline(const struct sl_state *st)
{
	return sl_state_deadline_skip(st, NULL);
}

uint64_t sl_state_deadline_skip(const struct sl_state *st, const uint8_t *skip)
{
	uint64_t d = UINT64_MAX;

	for (int s = 0; s < st->nservices; s++) {
		uint64_t x;

		if (!st->svc[s].st.name[0] || (skip && skip[s]))
			continue;
		x = sl_ro_deadline(&st->svc[s].ro);
		if (x < d)
			d = x;
	}
	return d;
}

/* [dataplane] and [control] keys a reload cannot apply. */
static void restart_keys(const struct sl_config *c, const struct sl_config *o, char *note,
			 size_t len)
{
	char dp[256] = "", ctl[256] = "";
	struct { const char *name; int differs; } k[] = {
		{ "eal_args", strcmp(c->eal_args, o->eal_args) != 0 },
		{ "flow_capacity", c->flow_capacity != o->flow_capacity },
		{ "tcp_syn_timeout", c->tcp_syn_timeout_ms != o->tcp_syn_timeout_ms },
		{ "tcp_timeout", c->tcp_timeout_ms != o->tcp_timeout_ms },
		{ "tcp_fin_timeout", c->tcp_fin_timeout_ms != o->tcp_fin_timeout_ms },
		{ "tcp_closed_timeout", c->tcp_closed_timeout_ms != o->tcp_closed_timeout_ms },
		{ "udp_timeout", c->udp_timeout_ms != o->udp_timeout_ms },
		{ "other", c->other != o->other },
		{ "malformed", c->malformed != o->malformed },
		{ "mbufs", c->mbufs != o->mbufs },
		{ "mbuf_size", c->mbuf_size != o->mbuf_size },
		{ "rx_desc", c->rx_desc != o->rx_desc },
		{ "tx_desc", c->tx_desc != o->tx_desc },
	}, kc[] = {
		{ "instance", strcmp(c->instance, o->instance) != 0 },
		{ "bpffs", strcmp(c->bpffs, o->bpffs) != 0 },
		{ "socket", strcmp(c->socket_path, o->socket_path) != 0 },
		{ "journal", strcmp(c->journal_path, o->journal_path) != 0 },
		{ "bpf_object", strcmp(c->bpf_object, o->bpf_object) != 0 },
		{ "group", strcmp(c->control_group, o->control_group) != 0 ||
			   c->control_gid != o->control_gid },
		{ "idle_timeout", c->idle_timeout_ms != o->idle_timeout_ms },
		{ "max_connections", c->max_connections != o->max_connections },
		{ "max_connections_per_uid",
		  c->max_connections_per_uid != o->max_connections_per_uid },
	};
	size_t a = 0, b = 0;

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		if (k[i].differs && a < sizeof(dp))
			a += (size_t)snprintf(dp + a, sizeof(dp) - a, "%s%s", a ? ", " : "",
					      k[i].name);
	for (size_t i = 0; i < sizeof(kc) / sizeof(kc[0]); i++)
		if (kc[i].differs && b < sizeof(ctl))
			b += (size_t)snprintf(ctl + b, sizeof(ctl) - b, "%s%s", b ? ", " : "",
					      kc[i].name);
	if (a)
		note_add(note, len, "[dataplane] %s: take effect when sluice-dp restarts", dp);
	if (b)
		note_add(note, len, "[control] %s: take effect when sluiced restarts", ctl);
}

/* May service s still have flows on a group of the removed mask?  Its
 * groups now, and those of the states its undo history remembers (flows
 * stick to the group they started on across later changes). */
static int holds_removed(const struct sl_state *st, int s, uint32_t removed)
{
	const struct sl_undo *u = &st->undo[s];

	if (!removed)
		return 0;
	for (int g = 0; g < st->base->ngroups; g++) {
		const char *name = st->base_groups[g].name;

		if (!(removed >> g & 1))
			continue;
		if (!strcmp(st->svc[s].st.champion, name) || !strcmp(st->svc[s].st.challenger, name))
			return 1;
		for (uint32_t i = 0; i < u->n; i++)
			if (!strcmp(u->e[i].st.champion, name) ||
			    !strcmp(u->e[i].st.challenger, name))
				return 1;
	}
	return 0;
}

int sl_plan_reload(struct sl_state *st, struct sl_txn *t, const struct sl_config *cfg,
		   const struct sl_config *old, struct sl_error *e)
{
	struct sl_config *laid;
	uint32_t removed = 0;
	char msg[SL_ERR_LEN], what[256];
	int changed;

	for (int s = 0; s < st->nservices; s++)
		if (st->svc[s].st.name[0] && no_rollout(st, s, "reload", e))
			return -1;
	laid = malloc(sizeof(*laid));
	if (!laid)
		return sl_error_set(e, SL_E_INTERNAL, "", "reload: out of memory");
	txn_begin(st, t);
	if (sl_state_layout(cfg, old, st->base, st->base_groups, laid, &removed, msg,
			    sizeof(msg)) ||
	    sl_tables_build(st->nbase, st->nbase_groups, laid, t->gen, msg, sizeof(msg))) {
		free(laid);
		return sl_error_set(e, SL_E_RELOAD_INVALID, "", "%s", msg);
	}
	changed = sl_state_structure_diff(st->base, st->base_groups, st->nbase, st->nbase_groups,
					  what, sizeof(what));
	t->nservices = laid->nservices;
	memset(t->next, 0, sizeof(t->next));
	for (unsigned s = 0; s < laid->nservices; s++) {
		const struct sl_cfg_service *cs = &laid->services[s];
		struct sl_svc *n = &t->next[s];
		const struct sl_svc *o = s < st->nservices ? &st->svc[s] : NULL;
		struct sl_svc_rec want;

		if (!cs->name[0])
			continue;
		memset(&want, 0, sizeof(want));
		snprintf(want.name, sizeof(want.name), "%s", cs->name);
		snprintf(want.champion, sizeof(want.champion), "%s",
			 laid->groups[cs->champion].name);
		snprintf(want.challenger, sizeof(want.challenger), "%s",
			 laid->groups[cs->challenger].name);
		want.share_bp = cs->share_bp;
		want.strategy = cs->share_bp ? SL_STRAT_CANARY : SL_STRAT_STEADY;
		if (o && !strcmp(o->st.name, cs->name)) {
			*n = *o;
			if (!split_eq(&o->st, &want)) {
				n->st = want;
				n->gen = t->gen;
				changed = 1;
			}
			/* Flows held by a group that is gone are decided again. */
			if (holds_removed(st, (int)s, removed)) {
				n->reset_gen = t->gen;
				n->st.reset = 1;
				n->gen = t->gen;
				changed = 1;
			}
		} else {
			n->st = want;
			n->gen = t->gen;
			changed = 1;
		}
	}
	for (int s = 0; s < st->nservices; s++)
		if (st->svc[s].st.name[0] && (s >= laid->nservices ||
					     strcmp(laid->services[s].name, st->svc[s].st.name)))
			changed = 1;
	/* the file's shadow rules replace the rule set, added ones included */
	shadows_from_cfg(&t->shadows, laid);
	/* slice filters are compiled with the shadow rules: other slices are
	 * a new rule set (shadow_gen) */
	if (!shadows_eq(&t->shadows, &st->shadows)) {
		t->shadow_changed = 1;
		changed = 1;
		if (!what[0])
			snprintf(what, sizeof(what), "other shadow rules");
	}
	if (st->nbase->nslices != st->base->nslices ||
	    memcmp(st->nbase->slices, st->base->slices, sizeof(st->base->slices))) {
		t->shadow_changed = 1;
		changed = 1;
		if (!what[0])
			snprintf(what, sizeof(what), "other slices");
	}
	if (old)
		restart_keys(cfg, old, t->note, sizeof(t->note));
	free(laid);
	if (!changed)
		return 0;
	t->publish = 1;
	t->reload = 1;
	t->undo = SL_UNDO_PUSH;
	snprintf(t->reason, sizeof(t->reason), "reload %.200s%s%s", cfg->path, what[0] ? ": " : "",
		 what);
	return 1;
}

void sl_plan_snapshot(const struct sl_state *st, struct sl_txn *t, int publish, int clear)
{
	txn_begin(st, t);
	t->publish = publish;
	/* a published snapshot (init, recovery) states the rule set anew */
	t->shadow_changed = publish;
	if (!publish)
		t->gen = st->gen;
	t->undo = clear ? SL_UNDO_CLEAR : SL_UNDO_NONE;
	/* A new starting point is every service's last change. */
	if (clear)
		for (int s = 0; s < t->nservices; s++)
			t->next[s].gen = t->gen;
}

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
		si = hdr_service(src, x->service);
		p = hdr_port(src, x->port);
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
		c = group_in(src, sg, n->st.champion);
		h = group_in(src, sg, n->st.challenger);
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
		if (t->undo == SL_UNDO_PUSH && o->st.name[0] && !split_eq(&o->st, &x->st))
			undo_push(&st->undo[s], &o->st, st->gen);
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
	if (t->reload) {
		struct sl_table_hdr *h = st->base;
		struct sl_group_rec *g = st->base_groups;

		st->base = st->nbase;
		st->base_groups = st->nbase_groups;
		st->nbase = h;
		st->nbase_groups = g;
		window_reset(st);
	}
	if (t->publish)
		st->gen = t->gen;
}

/* ---- JSON ---- */

json_t *sl_svc_json(const struct sl_svc_rec *r)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "name", r->name, "champion",
			 r->champion, "challenger", r->challenger, "share_bp", (int)r->share_bp,
			 "strategy", strategy_name(r->strategy), "mode", mode_name(r->reset));
}

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
		json_object_set_new(e, "shadows", shadows_json(&t->shadows));
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
		json_object_set_new(e, "shadows", shadows_json(&t->shadows));
		json_object_set_new(e, "shadow_gen", json_integer(t->shadow_changed ? t->gen :
								  st->shadow_gen));
		json_object_set_new(e, "reason", sl_json_str(t->reason));
		if (t->note[0])
			json_object_set_new(e, "note", sl_json_str(t->note));
	}
	return e;
}

/* ---- measured share ---- */

void sl_state_sample(struct sl_state *st, const struct sl_counters *stats, uint32_t nworkers,
		     uint64_t now_ms)
{
	uint64_t (*cur)[SL_MAX_GROUPS] = st->flows[st->head];
	unsigned ns = st->base->nservices, ng = st->base->ngroups;
	int dropped = 0;

	if (nworkers == 0 || nworkers != st->workers) {
		window_reset(st);
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
	int c = base_group(st, r->champion), h = base_group(st, r->challenger);
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
