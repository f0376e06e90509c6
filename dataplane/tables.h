/* Decision tables: building them from a configuration, finding a packet's
 * service, and the source the workers read them from.
 *
 * Where the tables live is hidden behind struct sl_table_src: two slots and
 * an active-slot word.  The INI loader fills slot 0 of heap memory; the
 * control daemon (next) points the slots at mmapped, pinned BPF maps.  The
 * worker code is the same for both. */
#ifndef SLUICE_TABLES_H
#define SLUICE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "../ebpf/sluice_layout.h"

/* Filter programs of a table's rule set (struct sl_filter_set, struct
 * sl_shadow_matcher): shadow rule r is program r, slice slot s program
 * SL_FILTER_SLICE(s). */
#define SL_FILTER_SLICE(s) (SL_MAX_SHADOWS + (s))
#define SL_FILTER_PROGS    (SL_MAX_SHADOWS + SL_MAX_SLICES)

struct sl_config;
struct sl_cfg_shadow;
struct sl_cfg_slice;

/* One slot: the header block and the group records it refers to. */
struct sl_view {
	const struct sl_table_hdr *hdr;
	const struct sl_group_rec *groups; /* [SL_MAX_GROUPS] */
};

struct sl_table_src {
	struct sl_view slot[2];
	const struct sl_control *control; /* active slot, read with acquire */
	struct sl_worker_ack *acks;       /* per worker: generation in use, or NULL */
};

/* The view a worker uses for its next burst. */
static inline const struct sl_view *sl_src_view(const struct sl_table_src *src)
{
	uint32_t s = __atomic_load_n(&src->control->active_slot, __ATOMIC_ACQUIRE);

	return &src->slot[s & 1];
}

/* Build a complete slot from a validated configuration: services, VIP
 * index (a service without a name, an index sluiced keeps free, is left
 * out), groups with their Maglev tables, shadow rules and slices.  Returns 0, or -1 with a message
 * in err (only for inconsistencies a configuration check cannot see). */
int sl_tables_build(struct sl_table_hdr *hdr, struct sl_group_rec *groups,
		    const struct sl_config *cfg, uint32_t gen, char *err, size_t errlen);

/* Flow-sampling seed of the shadow rule called name: from the table's flow
 * seed (itself from hash_seed) and the name alone, so that a rule samples
 * the same flows whatever other rules come and go, on every box. */
uint64_t sl_shadow_seed(uint64_t seed_flow, const char *name);

/* Put n shadow rules (slot r: rules[r]; a rule without a name is a free
 * slot) into hdr: shadows[], nshadows, each service's shadow_mask, seeds.
 * hdr's services and seeds must be filled.  shadow_gen is left to the
 * caller.  Used by the configuration's tables and by sluiced's. */
void sl_tables_shadows(struct sl_table_hdr *hdr, const struct sl_cfg_shadow *rules, unsigned n);

/* Put n slices (slot k: slices[k]; a slice without a name is a free slot)
 * into hdr: slices[], nslices.  Each slice of a service gets the lowest
 * bit of the flow's slice mask its service's earlier slots left free.
 * shadow_gen is left to the caller (slice filters are compiled with the
 * shadow rules'). */
void sl_tables_slices(struct sl_table_hdr *hdr, const struct sl_cfg_slice *slices, unsigned n);

/* Heap-backed single-slot source built from a configuration (INI mode).
 * Returns NULL with err set on failure. */
struct sl_table_src *sl_tables_from_config(const struct sl_config *cfg, char *err,
					   size_t errlen);
void sl_tables_free(struct sl_table_src *src);

/* One multiply: the VIP index is looked up for every packet. */
static inline uint32_t sl_vip_hash(uint8_t family, uint8_t proto, const uint8_t *addr)
{
	uint64_t w0, w1;

	__builtin_memcpy(&w0, addr, 8);
	__builtin_memcpy(&w1, addr + 8, 8);
	w0 ^= (w1 << 29 | w1 >> 35) ^ ((uint64_t)(family << 8 | proto) << 40);
	return (uint32_t)((w0 * 0x9e3779b97f4a7c15ull) >> 55) & (SL_VIP_SLOTS - 1);
}

static inline int sl_addr_eq(const uint8_t *a, const uint8_t *b)
{
	uint64_t a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

/* Service whose VIP is addr (16 bytes, IPv4 in the first 4) and whose port
 * ranges contain port.  any_port != 0 (fragments without ports): the lowest
 * numbered service on that VIP and protocol.  Returns the service index or
 * -1. */
static inline int sl_find_service(const struct sl_table_hdr *h, uint8_t family, uint8_t proto,
				  const uint8_t *addr, uint16_t port, int any_port)
{
	uint32_t i = sl_vip_hash(family, proto, addr);

	for (uint32_t n = 0; n < SL_VIP_SLOTS; n++, i = (i + 1) & (SL_VIP_SLOTS - 1)) {
		uint8_t v = h->vip_index[i];
		const struct sl_service_rec *s;

		if (v == 0)
			return -1;
		s = &h->services[v - 1];
		if (s->family != family || s->proto != proto || !sl_addr_eq(s->vip, addr))
			continue;
		if (any_port)
			return v - 1;
		for (uint32_t r = 0; r < s->nranges; r++)
			if (port >= s->ranges[r].lo && port <= s->ranges[r].hi)
				return v - 1;
	}
	return -1;
}

#endif
