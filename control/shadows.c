/* Shadow rules as sluiced keeps them (by names, at stable slots): rule
 * sets compared and trimmed, the rules of a table or of a laid-out
 * configuration, SHADOW_RULE JSON both ways, a rule described in words
 * (see state.h). */
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "config.h"
#include "state.h"
#include "state_int.h"

int sl_st_rule_eq(const struct sl_shadow_rule *a, const struct sl_shadow_rule *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->service, b->service) &&
	       !strcmp(a->port, b->port) && a->sample_bp == b->sample_bp &&
	       a->has_mac == b->has_mac && (!a->has_mac || !memcmp(a->mac, b->mac, 6)) &&
	       !strcmp(a->filter, b->filter);
}

int sl_st_shadows_eq(const struct sl_shadows *a, const struct sl_shadows *b)
{
	unsigned n = a->n > b->n ? a->n : b->n;

	for (unsigned r = 0; r < n; r++) {
		const struct sl_shadow_rule *x = &a->r[r], *y = &b->r[r];
		int xu = r < a->n && x->name[0], yu = r < b->n && y->name[0];

		if (xu != yu || (xu && !sl_st_rule_eq(x, y)))
			return 0;
	}
	return 1;
}

/* The highest used slot + 1. */
void sl_st_shadows_trim(struct sl_shadows *s)
{
	while (s->n && !s->r[s->n - 1].name[0])
		s->n--;
}

/* The rules of a table, by names (a record naming no service or port of
 * the table is left out). */
void sl_st_shadows_from_hdr(struct sl_shadows *o, const struct sl_table_hdr *h)
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
void sl_st_shadows_from_cfg(struct sl_shadows *o, const struct sl_config *c)
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

int sl_shadow_from_json(struct sl_shadow_rule *r, unsigned *slot, const json_t *o, char *err,
			size_t errlen)
{
	const json_t *idx = json_object_get(o, "index"), *bp = json_object_get(o, "sample_bp");
	const json_t *f = json_object_get(o, "filter"), *mac = json_object_get(o, "mac");

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return sl_seterr(err, errlen, "shadow rule: not an object");
	if (sl_st_name_of(o, "name", r->name, "shadow rule", err, errlen) ||
	    sl_st_name_of(o, "service", r->service, "shadow rule", err, errlen) ||
	    sl_st_name_of(o, "port", r->port, "shadow rule", err, errlen))
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

json_t *sl_st_shadows_json(const struct sl_shadows *s)
{
	json_t *a = json_array();

	for (unsigned r = 0; r < s->n && a; r++)
		if (s->r[r].name[0])
			json_array_append_new(a, sl_shadow_json(&s->r[r], r));
	return a;
}

int sl_st_shadows_from_json(struct sl_shadows *o, const json_t *a, char *err, size_t errlen)
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

void sl_st_shadow_names(const struct sl_shadows *s, char *buf, size_t len)
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
