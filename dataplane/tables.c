/* Building decision tables from a configuration, and the heap-backed
 * source used when no control daemon publishes them (INI mode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "maglev.h"
#include "tables.h"

/* Maglev permutations get their own seed so that the member choice does not
 * depend on how h2 is derived. */
#define MAGLEV_SEED_SALT 0x6d61676c6576ull /* "maglev" */

int sl_tables_build(struct sl_table_hdr *hdr, struct sl_group_rec *groups,
		    const struct sl_config *cfg, uint32_t gen, char *err, size_t errlen)
{
	struct sl_seeds seeds;

	if (cfg->nservices > SL_MAX_SERVICES || cfg->ngroups > SL_MAX_GROUPS) {
		snprintf(err, errlen, "%s: %u services / %u groups exceed the table limits "
			 "(%u / %u)", cfg->path, cfg->nservices, cfg->ngroups,
			 SL_MAX_SERVICES, SL_MAX_GROUPS);
		return -1;
	}
	memset(hdr, 0, sizeof(*hdr));
	hdr->layout_version = SL_LAYOUT_VERSION;
	hdr->gen = gen;
	hdr->nservices = cfg->nservices;
	hdr->ngroups = cfg->ngroups;
	sl_seeds_init(&seeds, cfg->hash_seed, cfg->group_seed, cfg->member_seed);
	hdr->seed_flow = seeds.flow;
	hdr->seed_group = seeds.group;
	hdr->seed_member = seeds.member;
	hdr->nports = cfg->nports;
	for (uint32_t p = 0; p < cfg->nports; p++)
		snprintf(hdr->port_names[p], sizeof(hdr->port_names[p]), "%s", cfg->ports[p].name);

	for (uint32_t g = 0; g < cfg->ngroups; g++) {
		const struct sl_cfg_group *cg = &cfg->groups[g];
		struct sl_group_rec *gr = &groups[g];

		memset(gr, 0, offsetof(struct sl_group_rec, maglev));
		gr->port = cg->port;
		gr->mode = cg->mode;
		snprintf(gr->name, sizeof(gr->name), "%s", cg->name);
		if (cg->mode != SL_MODE_MAC)
			continue;
		gr->nmembers = cg->nmembers;
		gr->maglev_size = cfg->maglev_size;
		memcpy(gr->macs, cg->macs, (size_t)cg->nmembers * 6);
		if (sl_maglev_build(gr->maglev, cfg->maglev_size,
				    (const uint8_t(*)[6])gr->macs, cg->nmembers,
				    seeds.member ^ MAGLEV_SEED_SALT) != 0) {
			snprintf(err, errlen, "%s: [group %s] members: cannot build a Maglev "
				 "table of size %u for %u members (expected a prime size "
				 "larger than the member count)", cfg->path, cg->name,
				 cfg->maglev_size, cg->nmembers);
			return -1;
		}
	}

	for (uint32_t s = 0; s < cfg->nservices; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];
		struct sl_service_rec *sr = &hdr->services[s];
		uint32_t i;

		sr->family = cs->family;
		sr->proto = cs->proto;
		sr->champion = cs->champion;
		sr->challenger = cs->challenger;
		sr->share_bp = cs->share_bp;
		sr->nranges = cs->nranges;
		memcpy(sr->vip, cs->vip, 16);
		memcpy(sr->ranges, cs->ranges, sizeof(sr->ranges));
		snprintf(sr->name, sizeof(sr->name), "%s", cs->name);
		/* an index no service uses (sluiced's stable indexes) is never found */
		if (!cs->name[0])
			continue;

		/* Index order insertion: the lowest service of a VIP comes first. */
		i = sl_vip_hash(sr->family, sr->proto, sr->vip);
		while (hdr->vip_index[i] != 0)
			i = (i + 1) & (SL_VIP_SLOTS - 1);
		hdr->vip_index[i] = (uint8_t)(s + 1);
	}
	if (cfg->nshadows > SL_MAX_SHADOWS) {
		snprintf(err, errlen, "%s: %u shadow rules exceed the table limit (%u)", cfg->path,
			 cfg->nshadows, SL_MAX_SHADOWS);
		return -1;
	}
	for (uint32_t r = 0; r < cfg->nshadows; r++)
		if (cfg->shadows[r].name[0] && (cfg->shadows[r].service >= cfg->nservices ||
		    !cfg->services[cfg->shadows[r].service].name[0] ||
		    cfg->shadows[r].port >= cfg->nports)) {
			snprintf(err, errlen, "%s: [shadow %s] names service index %u of %u, port "
				 "index %u of %u", cfg->path, cfg->shadows[r].name,
				 cfg->shadows[r].service, cfg->nservices, cfg->shadows[r].port,
				 cfg->nports);
			return -1;
		}
	sl_tables_shadows(hdr, cfg->shadows, cfg->nshadows);
	if (cfg->nslices > SL_MAX_SLICES) {
		snprintf(err, errlen, "%s: %u slices exceed the table limit (%u)", cfg->path,
			 cfg->nslices, SL_MAX_SLICES);
		return -1;
	}
	for (uint32_t k = 0; k < cfg->nslices; k++) {
		const struct sl_cfg_slice *cs = &cfg->slices[k];
		unsigned same = 0;

		if (!cs->name[0])
			continue;
		if (cs->service >= cfg->nservices || !cfg->services[cs->service].name[0] ||
		    cs->nprefixes > SL_SLICE_PREFIXES) {
			snprintf(err, errlen, "%s: [slice %s] names service index %u of %u, %u "
				 "prefixes (at most %u)", cfg->path, cs->name, cs->service,
				 cfg->nservices, cs->nprefixes, SL_SLICE_PREFIXES);
			return -1;
		}
		for (uint32_t j = 0; j < k; j++)
			same += cfg->slices[j].name[0] && cfg->slices[j].service == cs->service;
		if (same >= SL_SLICES_PER_SERVICE) {
			snprintf(err, errlen, "%s: [slice %s]: service %s has %u slices already "
				 "(at most %u)", cfg->path, cs->name,
				 cfg->services[cs->service].name, same, SL_SLICES_PER_SERVICE);
			return -1;
		}
	}
	sl_tables_slices(hdr, cfg->slices, cfg->nslices);
	/* Built from a configuration: its rule set is this generation's. */
	hdr->shadow_gen = gen;
	return 0;
}

/* Keeps shadow seeds apart from every other use of seed_flow. */
#define SHADOW_SEED_SALT 0x736861646f77ull /* "shadow" */

uint64_t sl_shadow_seed(uint64_t seed_flow, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return sl_hash_mix(h, seed_flow ^ SHADOW_SEED_SALT);
}

void sl_tables_shadows(struct sl_table_hdr *hdr, const struct sl_cfg_shadow *rules, unsigned n)
{
	hdr->nshadows = 0;
	memset(hdr->shadows, 0, sizeof(hdr->shadows));
	for (uint32_t s = 0; s < SL_MAX_SERVICES; s++)
		hdr->services[s].shadow_mask = 0;
	for (uint32_t r = 0; r < n && r < SL_MAX_SHADOWS; r++) {
		const struct sl_cfg_shadow *cs = &rules[r];
		struct sl_shadow_rec *sr = &hdr->shadows[r];

		if (!cs->name[0]) /* a free slot (sluiced keeps rules at their index) */
			continue;
		snprintf(sr->name, sizeof(sr->name), "%s", cs->name);
		sr->service = cs->service;
		sr->port = cs->port;
		sr->has_mac = cs->has_mac;
		memcpy(sr->mac, cs->mac, 6);
		sr->sample_bp = cs->sample_bp;
		sr->seed = sl_shadow_seed(hdr->seed_flow, cs->name);
		snprintf(sr->filter, sizeof(sr->filter), "%s", cs->filter);
		hdr->services[cs->service].shadow_mask |= (uint16_t)(1u << r);
		hdr->nshadows = (uint16_t)(r + 1);
	}
}

void sl_tables_slices(struct sl_table_hdr *hdr, const struct sl_cfg_slice *slices, unsigned n)
{
	uint8_t taken[SL_MAX_SERVICES];

	memset(taken, 0, sizeof(taken));
	hdr->nslices = 0;
	memset(hdr->slices, 0, sizeof(hdr->slices));
	/* the bits slices keep first (a reload: live flows carry them) */
	for (uint32_t k = 0; k < n && k < SL_MAX_SLICES; k++)
		if (slices[k].name[0] && slices[k].service < SL_MAX_SERVICES && slices[k].has_bit &&
		    slices[k].bit < SL_SLICES_PER_SERVICE)
			taken[slices[k].service] |= (uint8_t)(1u << slices[k].bit);
	for (uint32_t k = 0; k < n && k < SL_MAX_SLICES; k++) {
		const struct sl_cfg_slice *cs = &slices[k];
		struct sl_slice_rec *sr = &hdr->slices[k];
		unsigned bit;

		/* a free slot; a service without a free bit (checked before) */
		if (!cs->name[0] || cs->service >= SL_MAX_SERVICES)
			continue;
		if (cs->has_bit && cs->bit < SL_SLICES_PER_SERVICE) {
			bit = cs->bit;
		} else {
			if (taken[cs->service] == 0xff)
				continue;
			bit = (unsigned)__builtin_ctz(~(unsigned)taken[cs->service]);
		}
		taken[cs->service] |= (uint8_t)(1u << bit);
		snprintf(sr->name, sizeof(sr->name), "%s", cs->name);
		sr->service = cs->service;
		sr->bit = (uint8_t)bit;
		sr->nprefixes = cs->nprefixes < SL_SLICE_PREFIXES ? cs->nprefixes
								 : SL_SLICE_PREFIXES;
		memcpy(sr->src, cs->src, sr->nprefixes * sizeof(sr->src[0]));
		snprintf(sr->filter, sizeof(sr->filter), "%s", cs->filter);
		hdr->nslices = (uint16_t)(k + 1);
	}
}

struct ini_src {
	struct sl_table_src src; /* first: sl_tables_free casts back */
	struct sl_control control;
	struct sl_table_hdr hdr;
	struct sl_group_rec groups[];
};

struct sl_table_src *sl_tables_from_config(const struct sl_config *cfg, char *err,
					   size_t errlen)
{
	size_t ng = cfg->ngroups ? cfg->ngroups : 1;
	struct ini_src *t = calloc(1, sizeof(*t) + ng * sizeof(struct sl_group_rec));

	if (!t) {
		snprintf(err, errlen, "out of memory for the decision tables");
		return NULL;
	}
	if (sl_tables_build(&t->hdr, t->groups, cfg, 1, err, errlen) != 0) {
		free(t);
		return NULL;
	}
	t->control.layout_version = SL_LAYOUT_VERSION;
	t->control.active_slot = 0;
	t->control.gen = 1;
	t->src.slot[0].hdr = &t->hdr;
	t->src.slot[0].groups = t->groups;
	t->src.slot[1] = t->src.slot[0];
	t->src.control = &t->control;
	t->src.acks = NULL;
	return &t->src;
}

void sl_tables_free(struct sl_table_src *src)
{
	free(src);
}
