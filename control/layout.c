/* Stable indexes: a configuration laid out at the indexes of the table in
 * force (the ports may not change at run time), and the first structural
 * difference between two tables (see state.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errmsg.h"
#include "config.h"
#include "state.h"
#include "state_int.h"

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

static const char *cfg_slice_name(const void *c, unsigned i)
{
	return ((const struct sl_config *)c)->slices[i].name;
}

static const char *hdr_slice_name(const void *p, unsigned i)
{
	return ((const struct sl_table_hdr *)p)->slices[i].name;
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
	uint8_t lmap[SL_MAX_SLICES];
	uint32_t used[SL_MAX_SERVICES / 32];
	unsigned ng, ns, nr, nl;

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
	/* slices keep their slot (counters are per slot) and their bit (live
	 * flows carry a mask of bits), by name; they name their service by
	 * index too */
	nl = place(cfg->nslices, cfg_slice_name, cfg,
		   prev->nslices < SL_MAX_SLICES ? prev->nslices : SL_MAX_SLICES, hdr_slice_name,
		   prev, SL_MAX_SLICES, lmap, used);
	memset(out->slices, 0, sizeof(out->slices));
	out->nslices = (uint16_t)nl;
	for (unsigned i = 0; i < cfg->nslices; i++) {
		struct sl_cfg_slice *x = &out->slices[lmap[i]];
		const struct sl_slice_rec *was = &prev->slices[lmap[i]];

		*x = cfg->slices[i];
		x->service = smap[cfg->slices[i].service];
		x->has_bit = lmap[i] < prev->nslices && !strcmp(was->name, x->name) &&
			     was->service == x->service;
		x->bit = x->has_bit ? was->bit : 0;
	}
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
