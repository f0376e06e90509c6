/* Slices at run time: `slice add` and `slice remove` plans, slice records
 * as JSON and back (the journal keeps the whole set), and the set the
 * journal restores (see state.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "errmsg.h"
#include "state.h"
#include "state_int.h"

json_t *sl_slice_json(const struct sl_table_hdr *h, const struct sl_slice_rec *sr, unsigned slot)
{
	json_t *src = json_array();

	for (unsigned p = 0; p < sr->nprefixes && p < SL_SLICE_PREFIXES && src; p++) {
		char a[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 8];

		inet_ntop(sr->src[p].family == 4 ? AF_INET : AF_INET6, sr->src[p].addr, a,
			  sizeof(a));
		snprintf(text, sizeof(text), "%s/%u", a, sr->src[p].len);
		json_array_append_new(src, json_string(text));
	}
	return json_pack("{s:s, s:s, s:i, s:i, s:o, s:o}", "name", sr->name, "service",
			 sr->service < h->nservices ? h->services[sr->service].name : "?", "slot",
			 (int)slot, "bit", (int)sr->bit, "src", src ? src : json_array(),
			 "filter", sl_json_str(sr->filter));
}

json_t *sl_slices_json(const struct sl_table_hdr *h, const struct sl_slice_rec *s, unsigned n)
{
	json_t *a = json_array();

	for (unsigned k = 0; k < n && k < SL_MAX_SLICES && a; k++)
		if (s[k].name[0])
			json_array_append_new(a, sl_slice_json(h, &s[k], k));
	return a;
}

/* A prefix list "a/b, c/d" (or a JSON array's items) into sr. */
static int prefixes(struct sl_slice_rec *sr, const char *list, unsigned family,
		    const char *service, char *err, size_t errlen)
{
	char buf[1024], *item, *next;
	unsigned n = 0;

	if (strlen(list) >= sizeof(buf))
		return sl_seterr(err, errlen, "src: %zu characters (expected at most %u prefixes)",
				 strlen(list), SL_SLICE_PREFIXES);
	snprintf(buf, sizeof(buf), "%s", list);
	for (item = buf; item; item = next) {
		char msg[SL_ERR_LEN];

		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		while (*item == ' ')
			item++;
		for (char *e = item + strlen(item); e > item && e[-1] == ' ';)
			*--e = '\0';
		if (n == SL_SLICE_PREFIXES)
			return sl_seterr(err, errlen, "src: more than %u prefixes in '%s'",
					 SL_SLICE_PREFIXES, list);
		if (!*item)
			return sl_seterr(err, errlen, "src: item %u of '%s' is empty", n + 1, list);
		if (sl_prefix_parse(item, family, service, &sr->src[n], msg, sizeof(msg)))
			return sl_seterr(err, errlen, "src: %s", msg);
		for (unsigned j = 0; j < n; j++)
			if (sr->src[j].len == sr->src[n].len &&
			    !memcmp(sr->src[j].addr, sr->src[n].addr, 16))
				return sl_seterr(err, errlen, "src: '%s' is given twice", item);
		n++;
	}
	sr->nprefixes = (uint8_t)n;
	return 0;
}

int sl_slice_find(const struct sl_table_hdr *h, int svc, const char *name)
{
	for (unsigned k = 0; k < h->nslices && k < SL_MAX_SLICES; k++)
		if (h->slices[k].name[0] && (svc < 0 || h->slices[k].service == svc) &&
		    !strcmp(h->slices[k].name, name))
			return (int)k;
	return -1;
}

void sl_slice_names(const struct sl_table_hdr *h, int svc, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < h->nslices && k < SL_MAX_SLICES && off < len; k++)
		if (h->slices[k].name[0] && (svc < 0 || h->slices[k].service == svc))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						h->slices[k].name);
	if (!off)
		snprintf(buf, len, "none");
}

static void begin(const struct sl_state *st, struct sl_txn *t, int svc)
{
	sl_st_txn_begin(st, t);
	t->publish = 1;
	t->svc = svc;
	/* slice filters are compiled with the shadow rules: a new rule set */
	t->shadow_changed = 1;
	t->slices_changed = 1;
	t->nslices = st->base->nslices;
	memcpy(t->slices, st->base->slices, sizeof(t->slices));
}

int sl_plan_slice_add(const struct sl_state *st, struct sl_txn *t, const struct sl_req *req,
		      struct sl_error *e)
{
	const struct sl_table_hdr *h = st->base;
	struct sl_slice_rec sr;
	char msg[SL_ERR_LEN], names[640];
	unsigned used = 0, count = 0, slot = SL_MAX_SLICES;
	int svc, have;

	if (!sl_name_valid(req->name))
		return sl_error_set(e, SL_E_BAD_REQUEST, "name", "name '%s' is not a valid slice "
				    "name (expected %s)", req->name, SL_NAME_RULE);
	svc = sl_state_find_service(st, req->service, e);
	if (svc < 0)
		return -1;
	if (!req->src[0] && !req->filter[0])
		return sl_error_set(e, SL_E_BAD_REQUEST, "src", "slice %s: neither src nor filter "
				    "(expected at least one of them, e.g. --src 198.51.100.0/24 or "
				    "--filter 'tcp dst port 443')", req->name);
	memset(&sr, 0, sizeof(sr));
	snprintf(sr.name, sizeof(sr.name), "%.*s", SL_NAME_LEN - 1, req->name);
	sr.service = (uint8_t)svc;
	if (req->src[0] && prefixes(&sr, req->src, h->services[svc].family, h->services[svc].name,
				    msg, sizeof(msg)))
		return sl_error_set(e, SL_E_BAD_REQUEST, "src", "slice %s: %s", req->name, msg);
	snprintf(sr.filter, sizeof(sr.filter), "%s", req->filter);
	have = sl_slice_find(h, -1, req->name);
	if (have >= 0) {
		const struct sl_slice_rec *o = &h->slices[have];

		if (o->service == sr.service && o->nprefixes == sr.nprefixes &&
		    !memcmp(o->src, sr.src, sizeof(sr.src)) && !strcmp(o->filter, sr.filter)) {
			t->svc = svc;
			t->slice_slot = have;
			return 0;
		}
		return sl_error_set(e, SL_E_BAD_STATE, "name", "slice %s exists with another "
				    "definition (remove it first: slice remove %s)", req->name,
				    req->name);
	}
	for (unsigned k = 0; k < h->nslices && k < SL_MAX_SLICES; k++) {
		if (!h->slices[k].name[0]) {
			if (slot == SL_MAX_SLICES)
				slot = k;
			continue;
		}
		if (h->slices[k].service == svc) {
			used |= 1u << h->slices[k].bit;
			count++;
		}
	}
	if (count >= SL_SLICES_PER_SERVICE)
		return sl_error_set(e, SL_E_BAD_STATE, "service", "service %s has %u slices already "
				    "(at most %u per service)", h->services[svc].name, count,
				    SL_SLICES_PER_SERVICE);
	if (slot == SL_MAX_SLICES)
		slot = h->nslices;
	if (slot >= SL_MAX_SLICES) {
		sl_slice_names(h, -1, names, sizeof(names));
		return sl_error_set(e, SL_E_BAD_STATE, "name", "the table holds %u slices already "
				    "(%s)", SL_MAX_SLICES, names);
	}
	sr.bit = (uint8_t)__builtin_ctz(~used);
	begin(st, t, svc);
	t->slices[slot] = sr;
	if (slot >= t->nslices)
		t->nslices = (uint16_t)(slot + 1);
	t->slice_slot = (int)slot;
	snprintf(t->reason, sizeof(t->reason), "slice add %s: service %s%s%.200s%s%.200s%s",
		 sr.name, h->services[svc].name, req->src[0] ? ", src " : "", req->src,
		 sr.filter[0] ? ", filter '" : "", sr.filter, sr.filter[0] ? "'" : "");
	return 1;
}

int sl_plan_slice_remove(const struct sl_state *st, struct sl_txn *t, const char *name,
			 struct sl_error *e)
{
	const struct sl_table_hdr *h = st->base;
	int slot = sl_slice_find(h, -1, name);
	char names[640];

	if (slot < 0) {
		sl_slice_names(h, -1, names, sizeof(names));
		return sl_error_set(e, SL_E_UNKNOWN_SLICE, "name", "no slice '%s' (slices: %s)", name,
				    names);
	}
	begin(st, t, h->slices[slot].service);
	memset(&t->slices[slot], 0, sizeof(t->slices[slot]));
	while (t->nslices && !t->slices[t->nslices - 1].name[0])
		t->nslices--;
	t->slice_slot = slot;
	snprintf(t->reason, sizeof(t->reason), "slice remove %s (service %s)", name,
		 h->services[h->slices[slot].service].name);
	return 1;
}

int sl_slices_from_json(struct sl_slice_rec *out, uint16_t *n, char (*services)[SL_NAME_LEN],
			const json_t *a, char *err, size_t errlen)
{
	size_t i;
	const json_t *o;

	memset(out, 0, SL_MAX_SLICES * sizeof(*out));
	*n = 0;
	if (!json_is_array(a))
		return sl_seterr(err, errlen, "\"slices\" is not an array");
	json_array_foreach(a, i, o) {
		const json_t *slot = json_object_get(o, "slot"), *bit = json_object_get(o, "bit");
		const json_t *name = json_object_get(o, "name"), *svc = json_object_get(o, "service");
		const json_t *src = json_object_get(o, "src"), *f = json_object_get(o, "filter");
		struct sl_slice_rec *sr;
		size_t k;
		const json_t *p;
		unsigned s;

		if (!json_is_integer(slot) || json_integer_value(slot) < 0 ||
		    json_integer_value(slot) >= SL_MAX_SLICES || !json_is_integer(bit) ||
		    json_integer_value(bit) < 0 || json_integer_value(bit) >= SL_SLICES_PER_SERVICE ||
		    !json_is_string(name) || !sl_name_valid(json_string_value(name)) ||
		    !json_is_string(svc) || !sl_name_valid(json_string_value(svc)) ||
		    !json_is_array(src) || json_array_size(src) > SL_SLICE_PREFIXES ||
		    !json_is_string(f) || strlen(json_string_value(f)) >= SL_FILTER_LEN)
			return sl_seterr(err, errlen, "slices[%zu]: expected {\"name\", \"service\", "
					 "\"slot\", \"bit\", \"src\": [...], \"filter\"}", i);
		s = (unsigned)json_integer_value(slot);
		sr = &out[s];
		if (sr->name[0])
			return sl_seterr(err, errlen, "slices[%zu]: slot %u twice", i, s);
		snprintf(sr->name, sizeof(sr->name), "%s", json_string_value(name));
		snprintf(services[s], SL_NAME_LEN, "%s", json_string_value(svc));
		sr->bit = (uint8_t)json_integer_value(bit);
		snprintf(sr->filter, sizeof(sr->filter), "%s", json_string_value(f));
		json_array_foreach(src, k, p) {
			const char *text = json_string_value(p), *slash = text ? strchr(text, '/') : NULL;
			char addr[INET6_ADDRSTRLEN];
			struct sl_prefix *x = &sr->src[k];

			if (!slash || (size_t)(slash - text) >= sizeof(addr))
				return sl_seterr(err, errlen, "slices[%zu].src[%zu]: not ADDR/LEN", i, k);
			memcpy(addr, text, (size_t)(slash - text));
			addr[slash - text] = '\0';
			if (inet_pton(AF_INET, addr, x->addr) == 1)
				x->family = 4;
			else if (inet_pton(AF_INET6, addr, x->addr) == 1)
				x->family = 6;
			else
				return sl_seterr(err, errlen, "slices[%zu].src[%zu]: not ADDR/LEN", i, k);
			x->len = (uint8_t)atoi(slash + 1);
			if (x->len > (x->family == 4 ? 32 : 128))
				return sl_seterr(err, errlen, "slices[%zu].src[%zu]: length", i, k);
		}
		sr->nprefixes = (uint8_t)json_array_size(src);
		if (s + 1 > *n)
			*n = (uint16_t)(s + 1);
	}
	return 0;
}
